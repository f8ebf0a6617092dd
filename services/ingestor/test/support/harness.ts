/**
 * Test harness: the real NATS server (a namespace per test) and the Binance simulator over HTTP/WS, an in-process
 * ingestor on the simulator's clock, and reading the published series back from JetStream.
 */
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { expect } from "vitest";
import { BAR_MS, closedBarSchema, ingestorConfigSchema, natsNames, type ClosedBar, type IngestorConfig, type NatsNames } from "@gapfill/contracts";
import { createLogger, loadConfig, type Logger, type NatsConnection } from "@gapfill/kit";
import {
  connectTestNats,
  deleteNamespaceStreams,
  provisionTestTopology,
  TEST_NATS_URL,
  uniqueNamespace,
  waitFor,
} from "@gapfill/testkit";

export { metricValue } from "@gapfill/testkit";
import { startSim, type RunningSim, type SimOptions } from "@gapfill/binance-sim";
import { startIngestor, type IngestorTuning, type RunningIngestor } from "../../src/index.ts";
import { startRecordingProxy, type ProxyFaults, type RecordingProxy } from "./recording-proxy.ts";

export const SYMBOL = "BTCUSDT";

export function testLogger(name: string): Logger {
  return createLogger({ service: name, level: (process.env.TEST_LOG_LEVEL as "silent" | undefined) ?? "silent" });
}

/** One test's world: a namespace with its streams on the real NATS server, and a simulator. */
export interface IngestWorld {
  ns: string;
  names: NatsNames;
  nc: NatsConnection;
  sim: RunningSim;
  /** The ingestor's validated config for this world, with `env` on top. */
  config(env?: Record<string, string>): IngestorConfig;
  /**
   * Starts an ingestor in-process with the simulator's clock as its host clock (or `hostClock`, to play a host
   * whose clock is off); stopped by `cleanup()` unless stopped before.
   */
  startIngestor(env?: Record<string, string>, tuning?: Partial<IngestorTuning>, hostClock?: () => number): Promise<RunningIngestor>;
  /** A recording proxy in front of the simulator's REST API, changing answers by `faults`; closed by `cleanup()`. */
  proxyRest(faults?: ProxyFaults): Promise<RecordingProxy>;
  cleanup(): Promise<void>;
}

export async function createWorld(simOptions: SimOptions): Promise<IngestWorld> {
  const ns = uniqueNamespace();
  const nc = await connectTestNats();
  await provisionTestTopology(nc, ns);
  const sim = await startSim({ seed: 7, ...simOptions });
  const ingestors: RunningIngestor[] = [];
  const proxies: RecordingProxy[] = [];
  const config = (env: Record<string, string> = {}) =>
    loadConfig(ingestorConfigSchema, "ingestor", {
      NATS_URL: TEST_NATS_URL,
      NATS_NAMESPACE: ns,
      BINANCE_SYMBOL: (simOptions.symbols ?? [SYMBOL]).join(","),
      BINANCE_REST_URL: sim.restUrl,
      BINANCE_WS_URL: sim.wsUrl,
      INGESTOR_METRICS_PORT: "0",
      ...env,
    });
  return {
    ns,
    names: natsNames(ns),
    nc,
    sim,
    config,
    async startIngestor(env = {}, tuning = {}, hostClock = sim.clock) {
      const ingestor = await startIngestor({
        config: config(env),
        nc,
        log: testLogger(`ingestor-${ingestors.length + 1}`),
        clock: hostClock,
        tuning,
      });
      ingestors.push(ingestor);
      return ingestor;
    },
    async proxyRest(faults = {}) {
      const proxy = await startRecordingProxy(sim.restUrl, faults);
      proxies.push(proxy);
      return proxy;
    },
    async cleanup() {
      await Promise.all(ingestors.map((ingestor) => ingestor.stop()));
      await Promise.all(proxies.map((proxy) => proxy.close()));
      await sim.stop();
      await deleteNamespaceStreams(nc, ns);
      await nc.close();
    },
  };
}

export interface StoredBarRecord {
  bar: ClosedBar;
  seq: number;
  msgId: string | undefined;
}

/** Every message on `bars.15s.<symbol>`, in stream order, each parsed as a closed bar. */
export async function readSeries(nc: NatsConnection, names: NatsNames, symbol = SYMBOL): Promise<StoredBarRecord[]> {
  const jsm = await jetstreamManager(nc);
  const subject = names.subjects.bars(symbol);
  const info = await jsm.streams.info(names.streams.bars, { subjects_filter: subject });
  const expected = info.state.subjects?.[subject] ?? 0;
  const records: StoredBarRecord[] = [];
  if (expected === 0) return records;
  const consumer = await jetstream(nc).consumers.get(names.streams.bars, { filter_subjects: subject });
  while (records.length < expected) {
    const batch = await consumer.fetch({ max_messages: Math.min(1000, expected - records.length), expires: 2000 });
    let received = 0;
    for await (const message of batch) {
      received++;
      records.push({ bar: closedBarSchema.parse(message.json()), seq: message.seq, msgId: message.headers?.get("Nats-Msg-Id") });
    }
    if (received === 0) throw new Error(`read ${records.length} of ${expected} bars on ${subject}`);
  }
  return records;
}

/** Waits until the series has a bar at or after `ts`; returns the series. */
export async function waitForBarAt(
  world: IngestWorld,
  ts: number,
  { symbol = SYMBOL, timeoutMs = 60_000 }: { symbol?: string; timeoutMs?: number } = {},
): Promise<StoredBarRecord[]> {
  const jsm = await jetstreamManager(world.nc);
  const subject = world.names.subjects.bars(symbol);
  await waitFor(
    async () => {
      const last = await jsm.direct.getMessage(world.names.streams.bars, { last_by_subj: subject });
      return last !== null && closedBarSchema.parse(last.json()).ts >= ts;
    },
    { timeoutMs, intervalMs: 100, what: `a ${symbol} bar at ${new Date(ts).toISOString()}` },
  );
  return readSeries(world.nc, world.names, symbol);
}

/**
 * The stored series is gap-free, in order, each bar once with its message id, and equal field by field to the
 * simulator's ground truth over the same range (aggregate ids compared wherever the bar carries them).
 * Returns the number of bars that were built from trades (they carry agg ids).
 */
export function expectSeriesMatchesTruth(records: readonly StoredBarRecord[], sim: RunningSim, symbol = SYMBOL): { bars: number; withIds: number } {
  expect(records.length).toBeGreaterThan(0);
  records.forEach((record, i) => {
    expect(record.msgId).toBe(`${symbol}:${record.bar.ts}`);
    if (i > 0) expect(record.bar.ts, `bar ${i} follows bar ${i - 1}`).toBe(records[i - 1]!.bar.ts + BAR_MS);
  });
  const first = records[0]!.bar.ts;
  const last = records.at(-1)!.bar.ts;
  const truth = sim.groundTruth(symbol, first, last + BAR_MS);
  expect(truth.map((bar) => bar.ts)).toEqual(records.map((record) => record.bar.ts));
  let withIds = 0;
  records.forEach(({ bar }, i) => {
    const expected = truth[i]!;
    if (bar.first_agg_id !== null) withIds++;
    const comparable = bar.first_agg_id === null ? { ...expected, first_agg_id: null, last_agg_id: null } : expected;
    expect(bar, `bar at ${new Date(bar.ts).toISOString()}`).toEqual(comparable);
  });
  return { bars: records.length, withIds };
}
