import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setImmediate as nextTurn } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { objectStoreConfigSchema } from "@gapfill/contracts";
import { ObjectKeyError, ObjectStoreError, openLocalObjectStore, openObjectStore } from "../src/objects/index.ts";
import { capturingLogger, seededBytes, waitFor } from "@gapfill/testkit";
import { describeObjectStoreContract } from "./objects.contract.ts";

const MB = 1024 * 1024;
const dirs: string[] = [];
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** A temp folder of the test's own; the stores go in `objects` inside it, so a namespace's sibling is inside too. */
async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "gapfill-objects-"));
  dirs.push(dir);
  return dir;
}

afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** Every file under `dir` (relative paths), temp files included: what is really on disk. */
async function filesOnDisk(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1)).sort();
}

describeObjectStoreContract("local directory", async () => {
  const store = await openLocalObjectStore({ dir: join(await freshDir(), "objects") });
  return { store, teardown: () => store.close() };
});

describe("local object store", () => {
  it("keeps the key layout on disk: model/latest.json is <dir>/model/latest.json", async () => {
    const dir = join(await freshDir(), "objects");
    const store = await openLocalObjectStore({ dir });
    expect(store.location).toBe(dir);
    await store.put("model/v1/model.onnx", "onnx");
    await store.put("model/latest.json", '{"version":"v1"}');
    expect(await filesOnDisk(dir)).toEqual(["model/latest.json", "model/v1/model.onnx"]);
    expect(await readFile(join(dir, "model", "latest.json"), "utf8")).toBe('{"version":"v1"}');
  });

  it("shows readers the previous object whole while a streamed write is under way, and never lists its temp file", async () => {
    const dir = join(await freshDir(), "objects");
    const store = await openLocalObjectStore({ dir });
    // Not a whole number of chunks, so no file the size of the new version's written part is the old version.
    const previous = seededBytes(20, 3 * MB + 17);
    const next = seededBytes(21, 8 * MB);
    await store.put("model/model.onnx", previous);
    const seen: { written: number; size: number; sameAsPrevious: boolean; listed: [string, number][] }[] = [];

    async function* slowly() {
      for (let written = 0; written < next.length; ) {
        yield next.subarray(written, written + MB);
        written += MB;
        // Once the store has put this chunk on disk (under whatever name), look as a reader would.
        await waitFor(
          async () => {
            const sizes = await Promise.all((await filesOnDisk(dir)).map(async (file) => (await stat(join(dir, file))).size));
            return sizes.some((size) => size === written);
          },
          { what: `${written} bytes of the new version on disk` },
        );
        const got = await store.get("model/model.onnx");
        const listed = (await store.list("")).map((info): [string, number] => [info.key, info.size]);
        seen.push({ written, size: got.length, sameAsPrevious: got.equals(previous), listed });
      }
    }

    expect(await store.putStream("model/model.onnx", slowly())).toEqual({ size: next.length });
    expect(seen).toHaveLength(8);
    for (const look of seen) {
      expect(look).toEqual({ written: look.written, size: previous.length, sameAsPrevious: true, listed: [["model/model.onnx", previous.length]] });
    }
    expect(sha256(await store.get("model/model.onnx"))).toBe(sha256(next));
    expect(await filesOnDisk(dir)).toEqual(["model/model.onnx"]);
  });

  it("never lets a reader polling during large overwrites see anything but one whole version", async () => {
    const store = await openLocalObjectStore({ dir: join(await freshDir(), "objects") });
    const versions = [30, 31, 32, 33].map((seed) => seededBytes(seed, 8 * MB + seed));
    const known = new Map(versions.map((bytes, i) => [sha256(bytes), i]));
    await store.put("train/run/train.jsonl", versions[0]!);
    let writing = true;
    const reads: number[] = [];
    const reader = (async () => {
      while (writing) {
        const got = await store.get("train/run/train.jsonl");
        reads.push(known.get(sha256(got)) ?? -1);
        await nextTurn();
      }
    })();
    for (const bytes of [...versions.slice(1), versions[0]!, ...versions.slice(1)]) await store.put("train/run/train.jsonl", bytes);
    writing = false;
    await reader;
    expect(reads.length).toBeGreaterThan(0);
    expect(reads.filter((version) => version === -1)).toEqual([]);
    expect(sha256(await store.get("train/run/train.jsonl"))).toBe(sha256(versions[3]!));
  });

  it("neither lists nor serves a temp file a crashed write left behind", async () => {
    const dir = join(await freshDir(), "objects");
    const store = await openLocalObjectStore({ dir });
    await store.put("model/latest.json", "whole");
    await writeFile(join(dir, "model", "latest.json.partial-0123456789abcdef"), "half");
    expect((await store.list("")).map((info) => info.key)).toEqual(["model/latest.json"]);
    expect((await store.list("model/latest.json")).map((info) => info.key)).toEqual(["model/latest.json"]);
    await expect(store.get("model/latest.json.partial-0123456789abcdef")).rejects.toBeInstanceOf(ObjectKeyError);
    expect((await store.get("model/latest.json")).toString()).toBe("whole");
  });

  it("keeps each NATS_NAMESPACE in a folder of its own beside OBJECT_STORE_DIR, which defaults to objects under DATA_DIR", async () => {
    const dataDir = await freshDir();
    const open = async (env: Record<string, string>) => {
      const { log, lines } = capturingLogger();
      const store = await openObjectStore(objectStoreConfigSchema.parse({ OBJECT_STORE: "local", DATA_DIR: dataDir, ...env }), { log });
      return { store, lines };
    };
    const plain = await open({});
    const demo = await open({ NATS_NAMESPACE: "demo" });
    const chosen = await open({ OBJECT_STORE_DIR: join(dataDir, "elsewhere") });
    expect([plain.store.kind, demo.store.kind, chosen.store.kind]).toEqual(["local", "local", "local"]);
    expect(plain.store.location).toBe(join(dataDir, "objects"));
    expect(demo.store.location).toBe(join(dataDir, "objects.demo"));
    expect(chosen.store.location).toBe(join(dataDir, "elsewhere"));
    expect(demo.lines).toEqual([
      expect.objectContaining({ objectStore: "local", dir: join(dataDir, "objects.demo"), reason: "OBJECT_STORE=local", msg: `object store: local directory ${join(dataDir, "objects.demo")}` }),
    ]);

    await plain.store.put("model/latest.json", "live");
    await demo.store.put("model/latest.json", "demo");
    expect((await plain.store.get("model/latest.json")).toString()).toBe("live");
    expect((await demo.store.get("model/latest.json")).toString()).toBe("demo");
    expect(await chosen.store.list()).toEqual([]);
    expect(await filesOnDisk(dataDir)).toEqual(["objects.demo/model/latest.json", "objects/model/latest.json"]);
  });

  it("names the directory, the key and the cause when the filesystem refuses", async () => {
    const parent = await freshDir();
    await writeFile(join(parent, "a-file"), "not a folder");
    const error = await openLocalObjectStore({ dir: join(parent, "a-file") }).catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(ObjectStoreError);
    expect((error as Error).message).toMatch(new RegExp(`^local directory ${join(parent, "a-file")}: open failed: (EEXIST|ENOTDIR): `));

    const dir = join(parent, "objects");
    const store = await openLocalObjectStore({ dir });
    await writeFile(join(dir, "blocked"), "a file where a folder would go");
    const blocked = await store.put("blocked/x.json", "{}").catch((reason: unknown) => reason);
    expect(blocked).toBeInstanceOf(ObjectStoreError);
    expect((blocked as Error).message).toMatch(
      new RegExp(`^local directory ${dir}: put blocked/x.json failed: (EEXIST|ENOTDIR): .*\\(in a local directory a key cannot be both an object and a folder of other keys`),
    );
    await store.put("layout/a/b", "b");
    const folder = await store.put("layout/a", "a").catch((reason: unknown) => reason);
    expect((folder as Error).message).toMatch(new RegExp(`^local directory ${dir}: put layout/a failed: EISDIR: .*\\(in a local directory a key cannot`));
    // A refused write leaves no temp file behind.
    expect(await filesOnDisk(dir)).toEqual(["blocked", "layout/a/b"]);
  });
});
