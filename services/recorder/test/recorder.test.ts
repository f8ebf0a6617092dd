import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { BAR_MS, natsNames, type ClosedBar } from "@gapfill/contracts";
import { type BarStore, createLogger, createMetricsRegistry, type Logger, openPostgresStore } from "@gapfill/kit";
import {
  capturingLogger,
  connectTestNats,
  connectTestPostgres,
  deleteNamespaceStreams,
  dropTestSchema,
  metricValue,
  provisionTestTopology,
  publishBars,
  readStreamBars,
  type Sql,
  startTcpProxy,
  type TcpProxy,
  TEST_DATABASE_URL,
  TEST_SERIES_START,
  testBars,
  testDatabaseAddress,
  testDatabaseUrlVia,
  uniqueNamespace,
  waitFor,
} from "@gapfill/testkit";
import { RECORDER_DURABLE, startRecorder, type RecorderDeps } from "../src/index.ts";
import { measureLag } from "../src/lag.ts";
import { consumerState, countingUpserts, rowCount, tableBars } from "./support.ts";

const quiet = createLogger({ service: "recorder-test", level: "silent" });
let nc: NatsConnection;
let admin: Sql;
const namespaces: string[] = [];
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  nc = await connectTestNats();
  admin = connectTestPostgres();
});
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
afterAll(async () => {
  for (const ns of namespaces) {
    await deleteNamespaceStreams(nc, ns);
    await dropTestSchema(admin, ns);
  }
  await nc.close();
  await admin.end();
});

/** A namespace with its streams and a schema with price_15s; the store reaches Postgres through `url`. */
async function setup(options: { url?: string } = {}): Promise<{ ns: string; store: BarStore; check: BarStore }> {
  const ns = uniqueNamespace();
  namespaces.push(ns);
  await provisionTestTopology(nc, ns, { barsMaxAgeHours: 24 });
  const store = await openPostgresStore({ url: options.url ?? TEST_DATABASE_URL, prepare: true, schema: ns, log: quiet, applicationName: `rec-${ns}` });
  const check = await openPostgresStore({ url: TEST_DATABASE_URL, prepare: true, schema: ns, log: quiet });
  cleanups.push(() => store.close(), () => check.close());
  return { ns, store, check };
}

async function run(ns: string, store: BarStore, overrides: Partial<RecorderDeps["config"]> = {}, log: Logger = quiet, tuning: RecorderDeps["tuning"] = {}) {
  const registry = createMetricsRegistry("recorder");
  const recorder = await startRecorder({
    config: {
      NATS_NAMESPACE: ns,
      BINANCE_SYMBOL: ["BTCUSDT"],
      RECORDER_BATCH_SIZE: 1000,
      RECORDER_BATCH_MS: 50,
      RECORDER_ACK_WAIT_MS: 30_000,
      ...overrides,
    },
    nc,
    store,
    log,
    registry,
    tuning: { lagIntervalMs: 200, ...tuning },
  });
  cleanups.push(() => recorder.stop());
  return { recorder, registry };
}

async function untilTableEqualsStream(ns: string, check: BarStore, symbols: string[], timeoutMs = 30_000) {
  const truth = await readStreamBars(nc, ns);
  await waitFor(async () => (await rowCount(admin, ns)) >= truth.size, { timeoutMs, what: `${truth.size} rows` });
  expect(await tableBars(check, symbols)).toEqual(truth);
  return truth;
}

describe("recorder", () => {
  it("writes every bar of the stream into price_15s, at most RECORDER_BATCH_SIZE per upsert, acking each", async () => {
    const { ns, store, check } = await setup();
    const upserts: number[] = [];
    const counting = countingUpserts(store, upserts);
    const symbols = ["BTCUSDT", "ETHUSDT"];
    await publishBars(nc, ns, [...testBars("BTCUSDT", TEST_SERIES_START, 1300), ...testBars("ETHUSDT", TEST_SERIES_START, 1200, 2)]);
    const { registry } = await run(ns, counting, { RECORDER_BATCH_SIZE: 400 });
    await untilTableEqualsStream(ns, check, symbols);
    expect(upserts.reduce((a, b) => a + b, 0)).toBe(2500);
    expect(Math.max(...upserts)).toBeLessThanOrEqual(400);
    await waitFor(async () => (await consumerState(nc, natsNames(ns).streams.bars, RECORDER_DURABLE)).ackPending === 0, { what: "every bar acked" });
    expect(await consumerState(nc, natsNames(ns).streams.bars, RECORDER_DURABLE)).toEqual({ pending: 0, ackPending: 0, redelivered: 0 });
    expect(await metricValue(registry, "recorder_bars_recorded_total")).toBe(2500);
  });

  it("tells gateways on recorded.15s.<SYMBOL> after each batch is committed, never before", async () => {
    const { ns, store, check } = await setup();
    const names = natsNames(ns);
    const bars = testBars("BTCUSDT", TEST_SERIES_START, 900);
    const hinted: number[] = [];
    const sub = nc.subscribe(names.subjects.recorded("BTCUSDT"), {
      // The newest row when the hint arrives: the batch it announces must already be in the table.
      callback: () => void check.lastBarTs("BTCUSDT").then((ts) => hinted.push(ts ?? -1)),
    });
    cleanups.push(async () => sub.unsubscribe());
    const upserted: number[] = [];
    const recording: BarStore = {
      ...countingUpserts(store, []),
      upsertBars: async (batch) => {
        await store.upsertBars(batch);
        upserted.push(batch.at(-1)!.ts);
      },
    };
    await publishBars(nc, ns, bars);
    await run(ns, recording, { RECORDER_BATCH_SIZE: 300 });
    await waitFor(() => hinted.length >= upserted.length && upserted.at(-1) === bars.at(-1)!.ts, { what: "a hint per batch" });
    expect(hinted.length).toBe(upserted.length);
    // Sorted: the checks may resolve out of order; each hint saw at least its own batch, and batches only rise.
    for (const [i, ts] of [...hinted].sort((a, b) => a - b).entries()) expect(ts).toBeGreaterThanOrEqual(upserted[i]!);
  });

  it("runs one lag check at a time: a store that stops answering does not pile up checks", async () => {
    const { ns, store } = await setup();
    let calls = 0;
    const hanging: BarStore = {
      ...countingUpserts(store, []),
      lastBarTs: () => {
        calls += 1;
        return new Promise<number | null>(() => {});
      },
    };
    await publishBars(nc, ns, testBars("BTCUSDT", TEST_SERIES_START, 3));
    await run(ns, hanging, {}, quiet, { lagIntervalMs: 20 });
    await waitFor(() => calls >= 1, { what: "the first lag check" });
    const deadline = Date.now() + 500;
    await waitFor(() => Date.now() > deadline, { what: "25 more lag intervals", timeoutMs: 2000 });
    expect(calls).toBe(1);
  });

  it("gathers bars arriving close together into one upsert, bounded by RECORDER_BATCH_MS", async () => {
    const { ns, store, check } = await setup();
    const upserts: number[] = [];
    const counting = countingUpserts(store, upserts);
    await run(ns, counting, { RECORDER_BATCH_MS: 400 });
    await publishBars(nc, ns, testBars("BTCUSDT", TEST_SERIES_START, 5), 1);
    await untilTableEqualsStream(ns, check, ["BTCUSDT"]);
    expect(upserts).toEqual([5]);
  });

  it("is idempotent: a full replay and republished bars leave one row per (symbol, ts) with the latest values", async () => {
    const { ns, store, check } = await setup();
    const first = testBars("BTCUSDT", TEST_SERIES_START, 300, 1);
    await publishBars(nc, ns, first);
    const a = await run(ns, store);
    await untilTableEqualsStream(ns, check, ["BTCUSDT"]);
    await a.recorder.stop();
    // Corrected bars for the same keys, published under new message ids (as after the duplicate window).
    const corrected = testBars("BTCUSDT", TEST_SERIES_START + 100 * BAR_MS, 50, 9);
    const js = jetstream(nc);
    for (const bar of corrected) await js.publish(natsNames(ns).subjects.bars("BTCUSDT"), JSON.stringify(bar), { msgID: `fix:${bar.ts}` });
    // A replay of the whole stream from a fresh consumer.
    await (await jetstreamManager(nc)).consumers.delete(natsNames(ns).streams.bars, RECORDER_DURABLE);
    await run(ns, store);
    const truth = await readStreamBars(nc, ns);
    expect(truth.size).toBe(300);
    await waitFor(async () => (await check.pageNewestFirst("BTCUSDT", { fromTs: corrected[0]!.ts, toTs: corrected[0]!.ts, limit: 1 }))[0]?.open === corrected[0]!.open, { what: "corrections applied" });
    await waitFor(async () => (await consumerState(nc, natsNames(ns).streams.bars, RECORDER_DURABLE)).pending === 0, { what: "replay consumed" });
    await untilTableEqualsStream(ns, check, ["BTCUSDT"]);
    expect(await rowCount(admin, ns)).toBe(300);
  });

  it("terminates messages that are not closed bars and records the bars around them", async () => {
    const { ns, store, check } = await setup();
    const { log, lines } = capturingLogger();
    const js = jetstream(nc);
    const subject = natsNames(ns).subjects.bars("BTCUSDT");
    const bars = testBars("BTCUSDT", TEST_SERIES_START, 4);
    await publishBars(nc, ns, bars.slice(0, 2));
    await js.publish(subject, "not json at all", { msgID: "junk:1" });
    await js.publish(subject, JSON.stringify({ ...bars[2], ts: 1 }), { msgID: "junk:2" });
    await js.publish(natsNames(ns).subjects.bars("ETHUSDT"), JSON.stringify(bars[2]), { msgID: "junk:3" });
    await publishBars(nc, ns, bars.slice(2));
    const { registry } = await run(ns, store, {}, log);
    await waitFor(async () => (await rowCount(admin, ns)) === 4, { what: "4 valid bars" });
    expect(await check.pageNewestFirst("BTCUSDT", { limit: 10 })).toEqual([...bars].reverse());
    await waitFor(async () => (await consumerState(nc, natsNames(ns).streams.bars, RECORDER_DURABLE)).ackPending === 0, { what: "nothing left unacked" });
    expect(await metricValue(registry, "recorder_invalid_messages_total")).toBe(3);
    const reasons = lines.filter((l) => l.msg === "not a closed bar: terminated").map((l) => l.reason);
    expect(reasons).toEqual([expect.stringMatching(/^not JSON/), expect.stringMatching(/^ts: must be a multiple of 15000/), "symbol BTCUSDT published on the subject of ETHUSDT"]);
    expect(await rowCount(admin, ns)).toBe(4);
  });

  it("rides out a database outage: retries with backoff, keeps its bars claimed past the ack wait, then completes the table", async () => {
    const proxy: TcpProxy = await startTcpProxy(testDatabaseAddress());
    cleanups.push(() => proxy.close());
    const { ns, store, check } = await setup({ url: testDatabaseUrlVia(proxy.port) });
    const { log, lines } = capturingLogger();
    const { registry } = await run(ns, store, { RECORDER_ACK_WAIT_MS: 1000, RECORDER_BATCH_SIZE: 200 }, log, { retry: { initialMs: 100, maxMs: 400 } });
    await publishBars(nc, ns, testBars("BTCUSDT", TEST_SERIES_START, 300));
    await waitFor(async () => (await rowCount(admin, ns)) === 300, { what: "first 300 rows" });

    proxy.sever();
    const outage = testBars("BTCUSDT", TEST_SERIES_START + 300 * BAR_MS, 500);
    await publishBars(nc, ns, outage);
    const bars = natsNames(ns).streams.bars;
    await waitFor(() => lines.filter((l) => l.msg === "store write failed; retrying (bars stay in JetStream)").length >= 3, { what: "three failed writes" });
    // Held past three ack waits without a single redelivery: the recorder keeps claiming its bars.
    await waitFor(() => lines.filter((l) => l.msg === "store write failed; retrying (bars stay in JetStream)").length >= 10, { what: "ten failed writes", timeoutMs: 20_000 });
    const during = await consumerState(nc, bars, RECORDER_DURABLE);
    expect(during.ackPending).toBeGreaterThan(0);
    expect(during.redelivered).toBe(0);
    expect(await rowCount(admin, ns)).toBe(300);
    expect(await metricValue(registry, "recorder_store_up")).toBe(0);
    const delays = lines.filter((l) => l.msg === "store write failed; retrying (bars stay in JetStream)").map((l) => l.delayMs as number);
    expect(Math.max(...delays)).toBeLessThanOrEqual(400);
    expect(delays[0]).toBeLessThanOrEqual(100);

    proxy.restore();
    await untilTableEqualsStream(ns, check, ["BTCUSDT"]);
    expect(await rowCount(admin, ns)).toBe(800);
    await waitFor(async () => (await consumerState(nc, bars, RECORDER_DURABLE)).ackPending === 0, { what: "all acked" });
    expect((await consumerState(nc, bars, RECORDER_DURABLE)).redelivered).toBe(0);
    expect(lines.some((l) => l.msg === "store write succeeded after retries")).toBe(true);
    expect(await metricValue(registry, "recorder_store_up")).toBe(1);
  });

  it("catches up on a long backlog in bulk, logging its progress, then reports no lag", async () => {
    const { ns, store, check } = await setup();
    const { log, lines } = capturingLogger();
    await publishBars(nc, ns, testBars("BTCUSDT", TEST_SERIES_START, 6000));
    const { recorder, registry } = await run(ns, store, { RECORDER_BATCH_SIZE: 500 }, log, { progressIntervalMs: 0 });
    await untilTableEqualsStream(ns, check, ["BTCUSDT"]);
    await waitFor(() => lines.find((l) => l.msg === "caught up with the stream"), { what: "caught-up line" });
    const started = lines.find((l) => l.msg === "catching up on a backlog of bars");
    expect(started?.backlog).toBe(6000);
    const percents = lines.filter((l) => typeof l.msg === "string" && l.msg.startsWith("catch-up ")).map((l) => l.percent as number);
    expect(percents.length).toBeGreaterThanOrEqual(5);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(percents.at(-1)).toBeLessThan(100);
    expect(lines.find((l) => l.msg === "caught up with the stream")?.recorded).toBe(6000);
    const [lag] = await recorder.measureLag();
    expect(lag).toEqual({ symbol: "BTCUSDT", streamLastTs: TEST_SERIES_START + 5999 * BAR_MS, tableLastTs: TEST_SERIES_START + 5999 * BAR_MS, lagMs: 0 });
    const exposition = await registry.metrics();
    expect(exposition).toMatch(/recorder_lag_seconds\{symbol="BTCUSDT",service="recorder"\} 0/);
    expect(exposition).toMatch(/recorder_backlog_messages\{service="recorder"\} 0/);
  });
});

describe("lag", () => {
  it("is the newest stream bar minus the newest row, or the whole stream span for a symbol with no rows", async () => {
    const { ns, store } = await setup();
    const names = natsNames(ns);
    const jsm = await jetstreamManager(nc);
    const bars: ClosedBar[] = testBars("BTCUSDT", TEST_SERIES_START, 40);
    await publishBars(nc, ns, [...bars, ...testBars("ETHUSDT", TEST_SERIES_START + 10 * BAR_MS, 5)]);
    expect(await measureLag(jsm, names, store, ["BTCUSDT", "ETHUSDT", "XRPUSDT"])).toEqual([
      { symbol: "BTCUSDT", streamLastTs: bars[39]!.ts, tableLastTs: null, lagMs: 40 * BAR_MS },
      { symbol: "ETHUSDT", streamLastTs: TEST_SERIES_START + 14 * BAR_MS, tableLastTs: null, lagMs: 5 * BAR_MS },
    ]);
    await store.upsertBars(bars.slice(0, 30));
    expect((await measureLag(jsm, names, store, ["BTCUSDT"]))[0]).toMatchObject({ tableLastTs: bars[29]!.ts, lagMs: 10 * BAR_MS });
  });
});
