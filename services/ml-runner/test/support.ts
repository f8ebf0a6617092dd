/**
 * Test support for ml-runner: one world per test (a NATS namespace with its streams, a Postgres schema, an object
 * store of its own), a seeded market whose embeddings carry a learnable signal, runners started in-process, ticks
 * published as a scheduler would, and the ML events collected as they are published.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import {
  BAR_MS,
  EMBEDDING_DIM,
  FEATURE_VERSION,
  mlRunnerConfigSchema,
  tickMsgId,
  type ClosedBar,
  type MlRunnerConfig,
  type NatsNames,
  type TickEvent,
} from "@gapfill/contracts";
import {
  createMetricsRegistry,
  loadConfig,
  openObjectStore,
  openStore,
  type EmbeddingInput,
  type NatsConnection,
  type ObjectStore,
  type Registry,
  type ServiceLifecycle,
  type Store,
} from "@gapfill/kit";
import {
  capturingLogger,
  connectTestNats,
  connectTestPostgres,
  deleteNamespaceStreams,
  dropTestSchema,
  provisionTestTopology,
  seededWords,
  TEST_DATABASE_URL,
  TEST_NATS_URL,
  testBars,
  uniqueNamespace,
  waitFor,
  type S3TestServer,
} from "@gapfill/testkit";
import { createRunnerMetrics, runEvents, runSettingsOf, startRunner, trainerFor, type RunnerTuning, type Trainer } from "../src/index.ts";

export const SYMBOLS = ["BTCUSDT", "ETHUSDT"] as const;
export const HORIZON_MS = 900_000;
const HORIZON_BARS = HORIZON_MS / BAR_MS;

/**
 * Bars of each symbol (testkit's testBars) and an embedding at every bar whose first value leans towards the sign of
 * the close's change over the label horizon (with noise), the rest noise: a model can learn the label, and a model
 * fitted on shuffled labels cannot. Bars without a bar a horizon later get an embedding of noise only.
 */
export function seededMarket(fromTs: number, barsPerSymbol: number, seed = 1): { bars: ClosedBar[]; embeddings: EmbeddingInput[] } {
  const word = seededWords(seed);
  const uniform = () => (word() + 0.5) / 2 ** 32;
  const normal = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  const bars: ClosedBar[] = [];
  const embeddings: EmbeddingInput[] = [];
  SYMBOLS.forEach((symbol, s) => {
    const series = testBars(symbol, fromTs, barsPerSymbol, seed * 10 + s + 1);
    bars.push(...series);
    series.forEach((bar, i) => {
      const later = series[i + HORIZON_BARS];
      const direction = later === undefined || later.close === bar.close ? 0 : later.close > bar.close ? 1 : -1;
      const embedding = Float32Array.from({ length: EMBEDDING_DIM }, (_, k) => (k === 0 ? direction + 0.8 * normal() : normal()));
      embeddings.push({ symbol, ts: bar.ts, embedding, feature_version: FEATURE_VERSION, producer: "test" });
    });
  });
  return { bars, embeddings };
}

/** The labelled rows an export of [from, to) must hold, by `<symbol>:<ts>`: computed from the bars alone. */
export function expectedLabels(bars: readonly ClosedBar[], embeddings: readonly EmbeddingInput[], from: number, to: number): Map<string, 0 | 1> {
  const close = new Map(bars.map((bar) => [`${bar.symbol}:${bar.ts}`, bar.close]));
  const labels = new Map<string, 0 | 1>();
  for (const row of embeddings) {
    if (row.ts < from || row.ts >= to || row.feature_version !== FEATURE_VERSION) continue;
    const now = close.get(`${row.symbol}:${row.ts}`);
    const later = close.get(`${row.symbol}:${row.ts + HORIZON_MS}`);
    if (now !== undefined && later !== undefined) labels.set(`${row.symbol}:${row.ts}`, later > now ? 1 : 0);
  }
  return labels;
}

export interface MlEvent {
  subject: string;
  kind: string;
  data: Record<string, unknown>;
}

export interface TestRunner {
  lifecycle: ServiceLifecycle;
  registry: Registry;
  logs: Record<string, unknown>[];
  stop(): Promise<void>;
}

export interface RunnerWorld {
  ns: string;
  names: NatsNames;
  nc: NatsConnection;
  /** The world's configuration with `env` on top. */
  config(env?: Record<string, string>): MlRunnerConfig;
  /** A writable store on the world's schema, for seeding bars and embeddings. */
  store: Store;
  /** The world's object store, as the runner sees it. */
  objects: ObjectStore;
  /** Every message published under `<ns>.ml.` except ticks, in arrival order. */
  events: MlEvent[];
  eventsOf(kind: string): MlEvent[];
  waitForEvent(kind: string, predicate?: (data: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<MlEvent>;
  publishTick(windowStart: number, intervalSeconds?: number, msgId?: string): Promise<TickEvent>;
  /**
   * A runner in this process on its own NATS connection (as another host would be), with the trainer its
   * configuration selects unless one is given; stopped by cleanup().
   */
  startRunner(options?: { env?: Record<string, string>; trainer?: Trainer; tuning?: Partial<RunnerTuning> }): Promise<TestRunner>;
  cleanup(): Promise<void>;
}

/** Settings that keep a test's runs small and quick; any can be overridden per world or per runner. */
export const QUICK_RUNS: Record<string, string> = {
  ML_MIN_ROWS: "200",
  ML_EPOCHS: "8",
  ML_ACK_WAIT_SECONDS: "5",
  ML_MAX_DELIVERIES: "3",
  LOG_LEVEL: "silent",
};

/**
 * One test's world. The object store is a temp directory, or the bucket of an S3 test server when `s3` is given
 * (credentials through the SDK's default chain, as in production: the caller stubs them into the environment).
 */
export async function createRunnerWorld(options: { env?: Record<string, string>; s3?: S3TestServer } = {}): Promise<RunnerWorld> {
  const ns = uniqueNamespace();
  const nc = await connectTestNats();
  const names = await provisionTestTopology(nc, ns);
  const objectDir = await mkdtemp(join(tmpdir(), "gapfill-ml-runner-"));
  const objectEnv: Record<string, string> = options.s3
    ? { OBJECT_STORE: "s3", S3_ENDPOINT: options.s3.endpoint, LANDING_BUCKET: options.s3.bucket, AWS_REGION: options.s3.region }
    : { OBJECT_STORE: "local", OBJECT_STORE_DIR: objectDir };
  const baseEnv: Record<string, string> = {
    NATS_URL: TEST_NATS_URL,
    NATS_NAMESPACE: ns,
    DATABASE_URL: TEST_DATABASE_URL,
    DATABASE_SCHEMA: ns,
    BINANCE_SYMBOL: SYMBOLS.join(","),
    ML_RUNNER_METRICS_PORT: "0",
    ...QUICK_RUNS,
    ...objectEnv,
    ...options.env,
  };
  const config = (env: Record<string, string> = {}) => loadConfig(mlRunnerConfigSchema, "ml-runner", { ...baseEnv, ...env });
  const silent = capturingLogger().log;
  const store = await openStore(config(), { log: silent, access: "write" });
  const objects = await openObjectStore(config(), { log: silent });

  const events: MlEvent[] = [];
  const subscription = nc.subscribe(`${ns}.ml.>`);
  void (async () => {
    for await (const msg of subscription) {
      if (msg.subject.startsWith(`${ns}.ml.tick.`)) continue;
      events.push({ subject: msg.subject, kind: msg.subject.slice(ns.length + 4), data: msg.json() });
    }
  })();
  await nc.flush();
  const eventsOf = (kind: string) => events.filter((event) => event.kind === kind);

  const runners: TestRunner[] = [];
  return {
    ns,
    names,
    nc,
    config,
    store,
    objects,
    events,
    eventsOf,
    waitForEvent: (kind, predicate = () => true, timeoutMs = 60_000) =>
      waitFor(() => eventsOf(kind).find((event) => predicate(event.data)), { what: `a ${kind} event`, timeoutMs, intervalMs: 50 }),
    async publishTick(windowStart, intervalSeconds = 60, msgId) {
      const tick: TickEvent = { kind: "retrain", window_start: windowStart, interval_s: intervalSeconds };
      await jetstream(nc).publish(names.subjects.tick("retrain"), JSON.stringify(tick), { msgID: msgId ?? tickMsgId(tick) });
      return tick;
    },
    async startRunner({ env = {}, trainer, tuning } = {}) {
      const runnerConfig = config(env);
      const { log, lines } = capturingLogger();
      const runnerNc = await connectTestNats();
      const runnerStore = await openStore(runnerConfig, { log, access: "read" });
      const runnerObjects = await openObjectStore(runnerConfig, { log });
      const registry = createMetricsRegistry("ml-runner");
      const configured = trainerFor(runnerConfig, runnerObjects);
      const lifecycle = await startRunner({
        nc: runnerNc,
        names,
        deps: {
          store: runnerStore,
          objects: runnerObjects,
          trainer: trainer ?? configured.trainer,
          events: runEvents(jetstream(runnerNc), names),
          metrics: createRunnerMetrics(registry),
          log,
        },
        settings: runSettingsOf(runnerConfig),
        maxDeliveries: runnerConfig.ML_MAX_DELIVERIES,
        ackWaitMs: runnerConfig.ML_ACK_WAIT_SECONDS * 1000,
        tuning: { retry: { initialMs: 200, maxMs: 1000 }, ...tuning },
      });
      let stopped: Promise<void> | null = null;
      const runner: TestRunner = {
        lifecycle,
        registry,
        logs: lines,
        stop: () =>
          (stopped ??= (async () => {
            await lifecycle.stop();
            configured.close();
            await runnerObjects.close();
            await runnerStore.close();
            await runnerNc.drain();
          })()),
      };
      runners.push(runner);
      return runner;
    },
    async cleanup() {
      await Promise.all(runners.map((runner) => runner.stop()));
      subscription.unsubscribe();
      await objects.close();
      await store.close();
      const admin = connectTestPostgres();
      await dropTestSchema(admin, ns);
      await admin.end();
      await deleteNamespaceStreams(nc, ns);
      await nc.close();
      await rm(objectDir, { recursive: true, force: true });
    },
  };
}
