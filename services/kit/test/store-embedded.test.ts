import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, describe, expect, it } from "vitest";
import { BAR_MS } from "@gapfill/contracts";
import { createLogger } from "../src/log.ts";
import { deleteEmbeddedStore, EMBEDDED_DB_FILE, embeddedDbFile, MAX_PAGE_LIMIT, openEmbeddedStore, openStore } from "../src/store/index.ts";
import { TEST_SERIES_START, testBars, waitFor } from "@gapfill/testkit";
import { describeStoreContract } from "./store.contract.ts";
import { TYPESCRIPT_NODE_ARGS } from "@gapfill/kit";

const log = createLogger({ service: "store-test", level: "silent" });
const dirs: string[] = [];

async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "gapfill-embedded-"));
  dirs.push(dir);
  return dir;
}

afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describeStoreContract("embedded", async () => {
  const store = openEmbeddedStore({ dataDir: await freshDir(), log });
  return { store, teardown: () => store.close() };
});

/** A peer process (store-embedded-peer.ts) with its output lines collected. */
function startPeer(args: string[]): { child: ChildProcessWithoutNullStreams; lines: string[]; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [...TYPESCRIPT_NODE_ARGS, join(import.meta.dirname, "store-embedded-peer.ts"), ...args], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on("line", (line) => lines.push(line));
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      if (code !== 0) lines.push(`exit ${code}: ${stderr}`);
      resolve(code);
    }),
  );
  return { child, lines, exited };
}

describe("embedded store", () => {
  it("keeps its data under DATA_DIR and across reopening", async () => {
    const dir = join(await freshDir(), "nested", "data");
    const store = await openStore({ DATABASE_PREPARE: true, DATA_DIR: dir, NATS_NAMESPACE: "" }, { log, access: "write" });
    expect(store.kind).toBe("embedded");
    const bars = testBars("BTCUSDT", TEST_SERIES_START, 10);
    await store.upsertBars(bars);
    await store.close();
    expect(await readdir(dir)).toContain(EMBEDDED_DB_FILE);
    const reopened = openEmbeddedStore({ dataDir: dir, log });
    expect(await reopened.pageNewestFirst("BTCUSDT", { limit: 100 })).toEqual([...bars].reverse());
    await reopened.close();
  });

  it("keeps each NATS_NAMESPACE's bars in its own file, so namespaces sharing a DATA_DIR never mix", async () => {
    const dir = await freshDir();
    const open = (namespace: string) => openStore({ DATABASE_PREPARE: true, DATA_DIR: dir, NATS_NAMESPACE: namespace }, { log, access: "write" });
    const [plain, demo] = [await open(""), await open("demo")];
    const realBars = testBars("BTCUSDT", TEST_SERIES_START, 5);
    const demoBars = testBars("BTCUSDT", TEST_SERIES_START + 5 * BAR_MS, 3, 2);
    await plain.upsertBars(realBars);
    await demo.upsertBars(demoBars);
    expect(await plain.pageNewestFirst("BTCUSDT", { limit: 100 })).toEqual([...realBars].reverse());
    expect(await demo.pageNewestFirst("BTCUSDT", { limit: 100 })).toEqual([...demoBars].reverse());
    expect(await demo.lastBarTs("BTCUSDT")).toBe(demoBars.at(-1)!.ts);
    await Promise.all([plain.close(), demo.close()]);
    expect((await readdir(dir)).filter((name) => name.endsWith(".sqlite3")).sort()).toEqual([EMBEDDED_DB_FILE, embeddedDbFile("demo")].sort());

    // Deleting one namespace's file leaves the other's bars in place.
    expect(deleteEmbeddedStore(dir, "demo").map((file) => basename(file))).toEqual([embeddedDbFile("demo")]);
    expect(await readdir(dir)).not.toContain(embeddedDbFile("demo"));
    const reopened = await open("");
    expect(await reopened.pageNewestFirst("BTCUSDT", { limit: 100 })).toEqual([...realBars].reverse());
    await reopened.close();
  });

  it("is shared by two OS processes at once: each committed batch is visible to the reader, never half of one", async () => {
    const dir = await freshDir();
    const batches = 12;
    const total = batches * 500;
    const reader = startPeer(["reader", dir, String(total)]);
    await waitFor(() => reader.lines.includes("ready") || reader.lines.find((l) => l.startsWith("exit")), { what: "reader ready", timeoutMs: 20_000 });
    const writer = startPeer(["writer", dir, String(batches)]);
    for (let rows = 500; rows <= total; rows += 500) {
      await waitFor(() => writer.lines.includes(`wrote ${rows}`) || writer.lines.find((l) => l.startsWith("exit")), { what: `writer to commit ${rows} rows`, timeoutMs: 20_000 });
      await waitFor(() => reader.lines.includes(`saw ${rows}`) || reader.lines.find((l) => l.startsWith("exit")), { what: `reader to see ${rows} rows`, timeoutMs: 20_000 });
      expect(reader.lines.at(-1)).toBe(`saw ${rows}`);
      if (rows < total) writer.child.stdin.write("next\n");
    }
    expect(await writer.exited).toBe(0);
    expect(await reader.exited).toBe(0);
    // The reader checked every read against the series (a partial batch would have failed it) and saw each commit.
    const seen = reader.lines.filter((l) => l.startsWith("saw ")).map((l) => Number(l.slice(4)));
    expect(seen).toEqual(Array.from({ length: batches + 1 }, (_, i) => i * 500));
    const store = openEmbeddedStore({ dataDir: dir, log });
    expect(await store.pageNewestFirst("PEERUSDT", { limit: MAX_PAGE_LIMIT })).toEqual(testBars("PEERUSDT", TEST_SERIES_START, total).reverse());
    await store.close();
  });
});
