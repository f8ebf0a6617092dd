/**
 * The recorder on the embedded store (SQLite under DATA_DIR), as the service opens it. Each message must be acked
 * only after the batch holding it committed to the file (another connection sees it); a failing transaction leaves
 * the batch unacked and retried, exactly as a failing database does; as a process (src/main.ts), a SIGKILL
 * mid-backlog loses nothing and a SIGTERM ends it.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { natsNames } from "@gapfill/contracts";
import { type BarStore, createLogger, createMetricsRegistry, embeddedDbFile, type Logger, openEmbeddedStore } from "@gapfill/kit";
import {
  capturingLogger,
  connectTestNats,
  type ServiceProcess,
  startServiceProcess,
  TEST_NATS_URL,
  deleteNamespaceStreams,
  provisionTestTopology,
  publishBars,
  readStreamBars,
  TEST_SERIES_START,
  testBars,
  uniqueNamespace,
  waitFor,
} from "@gapfill/testkit";
import { RECORDER_DURABLE, startRecorder } from "../src/index.ts";
import { consumerState, tableBars } from "./support.ts";

const MAIN = join(import.meta.dirname, "..", "src", "main.ts");
const quiet = createLogger({ service: "recorder-test", level: "silent" });
const WRITE_FAILED = "store write failed; retrying (bars stay in JetStream)";
let nc: NatsConnection;
const namespaces: string[] = [];
const dirs: string[] = [];
const cleanups: (() => Promise<unknown>)[] = [];
const processes: ServiceProcess[] = [];

beforeAll(async () => {
  nc = await connectTestNats();
});
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
afterAll(async () => {
  await Promise.all(processes.map((p) => p.kill()));
  for (const ns of namespaces) await deleteNamespaceStreams(nc, ns);
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  await nc.close();
});

/** A namespace with its streams, the recorder's store and a raw connection to the same file. */
async function setup(): Promise<{ ns: string; store: BarStore; raw: Database.Database; dir: string }> {
  const ns = uniqueNamespace();
  namespaces.push(ns);
  await provisionTestTopology(nc, ns, { barsMaxAgeHours: 24 });
  const dir = await mkdtemp(join(tmpdir(), "gapfill-recorder-embedded-"));
  dirs.push(dir);
  const store = openEmbeddedStore({ dataDir: dir, namespace: ns, log: quiet });
  await store.ping();
  const raw = new Database(join(dir, embeddedDbFile(ns)));
  cleanups.push(() => store.close(), async () => raw.close());
  return { ns, store, raw, dir };
}

async function run(ns: string, store: BarStore, log: Logger = quiet) {
  const recorder = await startRecorder({
    config: { NATS_NAMESPACE: ns, BINANCE_SYMBOL: ["BTCUSDT"], RECORDER_BATCH_SIZE: 500, RECORDER_BATCH_MS: 50, RECORDER_ACK_WAIT_MS: 30_000 },
    nc,
    store,
    log,
    registry: createMetricsRegistry("recorder"),
    tuning: { retry: { initialMs: 50, maxMs: 200 } },
  });
  cleanups.push(() => recorder.stop());
  return recorder;
}

/**
 * Watches the acks the recorder sends (`$JS.ACK.<stream>.<durable>.<delivered>.<stream seq>.…`, NATS 2.9's form)
 * and, the moment each arrives, looks its bar up in the file: a bar missing then was acked before its commit.
 */
function watchAcks(ns: string, raw: Database.Database, bars: readonly { ts: number }[]) {
  const stream = natsNames(ns).streams.bars;
  const has = raw.prepare<[string, number], { n: number }>("select count(*) as n from price_15s where symbol = ? and ts = ?");
  const acked: number[] = [];
  const ackedBeforeCommit: number[] = [];
  const sub = nc.subscribe(`$JS.ACK.${stream}.${RECORDER_DURABLE}.>`, {
    callback: (_error, msg) => {
      const tokens = msg.subject.split(".");
      if (tokens.length !== 9) throw new Error(`unexpected ack subject ${msg.subject}`);
      const seq = Number(tokens[5]);
      acked.push(seq);
      // No table at all (the test dropped it) counts as not committed.
      const stored = (() => {
        try {
          return has.get("BTCUSDT", bars[seq - 1]!.ts)!.n === 1;
        } catch {
          return false;
        }
      })();
      if (!stored) ackedBeforeCommit.push(seq);
    },
  });
  cleanups.push(async () => sub.unsubscribe());
  return { acked, ackedBeforeCommit };
}

describe("recorder on the embedded store", () => {
  it("acks each bar only once the batch holding it has committed to the file, one ack per message", async () => {
    const { ns, store, raw } = await setup();
    const bars = testBars("BTCUSDT", TEST_SERIES_START, 3000);
    const acks = watchAcks(ns, raw, bars);
    await publishBars(nc, ns, bars);
    await run(ns, store);
    await waitFor(() => acks.acked.length >= bars.length, { what: "an ack per bar", timeoutMs: 30_000 });
    expect(acks.ackedBeforeCommit).toEqual([]);
    expect([...acks.acked].sort((a, b) => a - b)).toEqual(bars.map((_, i) => i + 1));
    expect(await tableBars(store, ["BTCUSDT"])).toEqual(await readStreamBars(nc, ns));
    await waitFor(async () => (await consumerState(nc, natsNames(ns).streams.bars, RECORDER_DURABLE)).ackPending === 0, { what: "nothing pending" });
    expect((await consumerState(nc, natsNames(ns).streams.bars, RECORDER_DURABLE)).redelivered).toBe(0);
  });

  it("leaves a batch unacked while its transaction fails, retries it, and acks it after it commits", async () => {
    const { ns, store, raw, dir } = await setup();
    const bars = testBars("BTCUSDT", TEST_SERIES_START, 400);
    const acks = watchAcks(ns, raw, bars);
    raw.exec("drop table price_15s");
    const { log, lines } = capturingLogger();
    await publishBars(nc, ns, bars);
    await run(ns, store, log);
    await waitFor(() => lines.filter((l) => l.msg === WRITE_FAILED).length >= 3, { what: "three failed writes" });
    const failure = lines.find((l) => l.msg === WRITE_FAILED)!.err as { message: string };
    expect(failure.message).toMatch(/no such table: (main\.)?price_15s/);
    expect(acks.acked).toEqual([]);
    expect((await consumerState(nc, natsNames(ns).streams.bars, RECORDER_DURABLE)).ackPending).toBe(bars.length);

    // The table back (opening the store creates it): the retried batch commits, then every bar is acked.
    await openEmbeddedStore({ dataDir: dir, namespace: ns, log: quiet }).close();
    await waitFor(() => acks.acked.length >= bars.length, { what: "an ack per bar", timeoutMs: 30_000 });
    expect(acks.ackedBeforeCommit).toEqual([]);
    expect(await tableBars(store, ["BTCUSDT"])).toEqual(await readStreamBars(nc, ns));
    expect(lines.some((l) => l.msg === "store write succeeded after retries")).toBe(true);
    expect((await consumerState(nc, natsNames(ns).streams.bars, RECORDER_DURABLE)).redelivered).toBe(0);
  });

  it("as a process: a SIGKILL mid-backlog loses nothing (the next process completes the file), and SIGTERM exits 0", { timeout: 120_000 }, async () => {
    const { ns, store, raw, dir } = await setup();
    const env = {
      NATS_URL: TEST_NATS_URL,
      NATS_NAMESPACE: ns,
      DATA_DIR: dir,
      BINANCE_SYMBOL: "BTCUSDT",
      RECORDER_BATCH_SIZE: "500",
      RECORDER_BATCH_MS: "100",
      RECORDER_ACK_WAIT_MS: "2000",
      RECORDER_METRICS_PORT: "0",
      LOG_LEVEL: "info",
    };
    const rows = raw.prepare<[], { n: number }>("select count(*) as n from price_15s");
    await publishBars(nc, ns, testBars("BTCUSDT", TEST_SERIES_START, 20_000));
    const a = startServiceProcess(MAIN, env);
    processes.push(a);
    await a.logged("bar store: embedded SQLite under DATA_DIR");
    await a.logged("recorder started");
    await waitFor(() => rows.get()!.n >= 2000, { what: "2,000 rows", timeoutMs: 30_000 });
    a.child.kill("SIGKILL");
    expect(rows.get()!.n).toBeLessThan(20_000);
    expect((await a.exited).signal).toBe("SIGKILL");

    // The bars A held unacked come back after the ack wait; B writes them and the rest.
    const b = startServiceProcess(MAIN, env);
    processes.push(b);
    await waitFor(() => rows.get()!.n === 20_000, { what: "20,000 rows", timeoutMs: 60_000 });
    expect(await tableBars(store, ["BTCUSDT"])).toEqual(await readStreamBars(nc, ns));
    await waitFor(async () => (await consumerState(nc, natsNames(ns).streams.bars, RECORDER_DURABLE)).ackPending === 0, { what: "nothing pending" });
    b.child.kill("SIGTERM");
    await waitFor(() => b.child.exitCode !== null || b.child.signalCode !== null, { what: "B to exit after SIGTERM", timeoutMs: 20_000 });
    expect((await b.exited).code).toBe(0);
  });
});
