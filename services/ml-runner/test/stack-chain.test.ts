/**
 * The chain on a simulator-fed stack: the Binance simulator → the ingestor → NATS → the recorder → price_15s, the
 * built-in embeddings of the recorded bars in ai_outputs, then a retrain tick → ml-runner (each service through its
 * own service spec, as `npm start` runs it) → export → model → gate → latest.json, on the local object store and on
 * an S3 test server.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  BAR_MS,
  BUILTIN_PRODUCER,
  DEFAULT_EMBED_WINDOW_BARS,
  FEATURE_VERSION,
  lastClosedBarTs,
  modelManifestSchema,
  objectStoreConfigSchema,
  runIdOf,
  storeConfigSchema,
  tickMsgId,
  tickWindowStart,
  TRAINING_MANIFEST_FILE,
  TRAINING_ROWS_FILE,
  trainingSetManifestSchema,
  type TickEvent,
} from "@gapfill/contracts";
import { loadConfig, loadScoringModel, MAX_PAGE_LIMIT, openObjectStore, openStore, runService, sha256Hex, type ObjectStore, type ServiceRun, type Store } from "@gapfill/kit";
import { startSim, type RunningSim } from "@gapfill/binance-sim";
import { embeddingAt } from "@gapfill/embedder";
import { ingestorService } from "@gapfill/ingestor";
import { recorderService } from "@gapfill/recorder";
import {
  capturingLogger,
  connectTestNats,
  connectTestPostgres,
  deleteNamespaceStreams,
  dropTestSchema,
  provisionTestTopology,
  startS3TestServer,
  TEST_DATABASE_URL,
  TEST_NATS_URL,
  uniqueNamespace,
  waitFor,
  type S3TestServer,
} from "@gapfill/testkit";
import type { NatsConnection } from "@nats-io/transport-node";
import { mlRunnerService } from "../src/index.ts";

const SYMBOL = "BTCUSDT";
const BACKFILL_HOURS = 4;

/** Namespace of the market chain; the S3-backed runner has its own namespace over the same tables. */
const ns = uniqueNamespace();
const s3Namespace = uniqueNamespace();
let nc: NatsConnection;
let sim: RunningSim;
let s3: S3TestServer;
let objectDir: string;
let store: Store;
const runs: ServiceRun[] = [];
const events: { subject: string; data: Record<string, unknown> }[] = [];

const common = (namespace: string) => ({
  NATS_URL: TEST_NATS_URL,
  NATS_NAMESPACE: namespace,
  BINANCE_SYMBOL: SYMBOL,
  DATABASE_URL: TEST_DATABASE_URL,
  DATABASE_SCHEMA: ns,
  LOG_LEVEL: "silent",
});

function service(spec: Parameters<typeof runService>[0], env: Record<string, string>): Promise<ServiceRun> {
  return runService(spec, { env, exit: () => {} }).then((run) => {
    runs.push(run);
    return run;
  });
}

beforeAll(async () => {
  nc = await connectTestNats();
  await provisionTestTopology(nc, ns);
  await provisionTestTopology(nc, s3Namespace);
  const subscription = nc.subscribe(`*.ml.>`);
  void (async () => {
    for await (const msg of subscription) {
      if (msg.subject.startsWith(`${ns}.`) || msg.subject.startsWith(`${s3Namespace}.`)) events.push({ subject: msg.subject, data: msg.json() });
    }
  })();
  sim = await startSim({ seed: 5, symbols: [SYMBOL], historyHours: BACKFILL_HOURS + 1, speed: 1 });
  s3 = await startS3TestServer();
  vi.stubEnv("AWS_ACCESS_KEY_ID", s3.credentials.accessKeyId);
  vi.stubEnv("AWS_SECRET_ACCESS_KEY", s3.credentials.secretAccessKey);
  objectDir = await mkdtemp(join(tmpdir(), "gapfill-chain-"));
  store = await openStore(loadConfig(storeConfigSchema, "test", common(ns)), { log: capturingLogger().log, access: "write" });
}, 60_000);

afterAll(async () => {
  await Promise.all(runs.map((run) => run.stop()));
  await sim?.stop();
  await store?.close();
  await s3?.close();
  vi.unstubAllEnvs();
  for (const namespace of [ns, s3Namespace]) await deleteNamespaceStreams(nc, namespace);
  const admin = connectTestPostgres();
  await dropTestSchema(admin, ns);
  await admin.end();
  await nc.close();
  await rm(objectDir, { recursive: true, force: true });
}, 60_000);

async function expectPublished(objects: ObjectStore, runId: string): Promise<Buffer> {
  const manifest = trainingSetManifestSchema.parse(JSON.parse((await objects.get(`train/${runId}/${TRAINING_MANIFEST_FILE}`)).toString()));
  const rows = await objects.get(`train/${runId}/${TRAINING_ROWS_FILE}`);
  expect(sha256Hex(rows)).toBe(manifest.sha256[TRAINING_ROWS_FILE]);
  expect(manifest).toMatchObject({ feature_version: FEATURE_VERSION, dimension: 25 });
  const latest = modelManifestSchema.parse(JSON.parse((await objects.get("model/latest.json")).toString()));
  expect(latest.version).toBe(runId);
  const onnx = await objects.get(latest.artifacts.onnx!);
  expect(sha256Hex(onnx)).toBe(latest.sha256.onnx);
  const scorer = await loadScoringModel(onnx, 25);
  await scorer.release();
  return rows;
}

describe("a retrain tick on the simulator-fed stack", () => {
  it("goes from simulated trades to latest.json, on the local object store and on an S3 server", async () => {
    await service(recorderService, { ...common(ns), RECORDER_METRICS_PORT: "0" });
    await service(ingestorService, {
      ...common(ns),
      BINANCE_REST_URL: sim.restUrl,
      BINANCE_WS_URL: sim.wsUrl,
      INGEST_BACKFILL_HOURS: String(BACKFILL_HOURS),
      INGESTOR_METRICS_PORT: "0",
    });
    // The recorder has written the backfill and the bars since.
    await waitFor(async () => ((await store.lastBarTs(SYMBOL)) ?? 0) >= lastClosedBarTs(sim.clock()) - 2 * BAR_MS, {
      what: "the recorded bars to reach the simulator's clock",
      timeoutMs: 120_000,
      intervalMs: 250,
    });

    // The built-in embedding of every recorded bar with a full window, as the embedder would write it.
    const series = (await store.pageNewestFirst(SYMBOL, { limit: MAX_PAGE_LIMIT })).reverse();
    const embeddings = series.flatMap((bar) => {
      const embedding = embeddingAt(series, bar.ts, DEFAULT_EMBED_WINDOW_BARS);
      return embedding ? [{ symbol: SYMBOL, ts: bar.ts, embedding, feature_version: FEATURE_VERSION, producer: BUILTIN_PRODUCER }] : [];
    });
    expect(embeddings.length).toBeGreaterThan(500);
    await store.upsertEmbeddings(embeddings);

    const runnerEnv = { TRAIN_WINDOW_HOURS: String(BACKFILL_HOURS + 1), ML_MIN_ROWS: "300", ML_RUNNER_METRICS_PORT: "0" };
    await service(mlRunnerService, { ...common(ns), ...runnerEnv, OBJECT_STORE: "local", OBJECT_STORE_DIR: objectDir });
    await service(mlRunnerService, { ...common(s3Namespace), ...runnerEnv, OBJECT_STORE: "s3", S3_ENDPOINT: s3.endpoint, LANDING_BUCKET: s3.bucket });

    const tick: TickEvent = { kind: "retrain", window_start: tickWindowStart(sim.clock(), 60), interval_s: 60 };
    const runId = runIdOf(tick);
    const js = jetstream(nc);
    for (const namespace of [ns, s3Namespace]) {
      await js.publish(`${namespace}.ml.tick.retrain`, JSON.stringify(tick), { msgID: tickMsgId(tick) });
    }
    await waitFor(() => events.filter((event) => event.subject.endsWith(".ml.run.finished")).length === 2, {
      what: `both runs to finish (events: ${JSON.stringify(events.map((event) => event.subject))})`,
      timeoutMs: 120_000,
      intervalMs: 100,
    });
    for (const namespace of [ns, s3Namespace]) {
      const finished = events.find((event) => event.subject === `${namespace}.ml.run.finished`)!;
      expect(finished.data).toMatchObject({ run_id: runId, outcome: "promoted", version: runId });
      expect(finished.data.rows).toBeGreaterThanOrEqual(300);
      expect(events.some((event) => event.subject === `${namespace}.ml.model.published` && event.data.version === runId)).toBe(true);
    }

    const objectStore = (env: Record<string, string>) => openObjectStore(loadConfig(objectStoreConfigSchema, "test", env), { log: capturingLogger().log });
    const local = await objectStore({ NATS_NAMESPACE: ns, OBJECT_STORE: "local", OBJECT_STORE_DIR: objectDir });
    const remote = await objectStore({ NATS_NAMESPACE: s3Namespace, OBJECT_STORE: "s3", S3_ENDPOINT: s3.endpoint, LANDING_BUCKET: s3.bucket });
    try {
      const localRows = await expectPublished(local, runId);
      const remoteRows = await expectPublished(remote, runId);
      // Same tables, same window: the same training set in both stores.
      expect(remoteRows.equals(localRows)).toBe(true);
    } finally {
      await local.close();
      await remote.close();
    }
  }, 300_000);
});
