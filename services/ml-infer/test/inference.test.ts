/**
 * ml-infer in this process against the real servers: a pass at start, one per infer tick, one right after
 * `ml.model.published`; each prediction published once on its subject, stored in ml_predictions and logged, the
 * three agreeing; a pass that fails after publishing is repeated on the redelivered tick without publishing twice.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BAR_MS,
  EMBEDDING_DIM,
  FEATURE_VERSION,
  storeConfigSchema,
  tickMsgId,
  type NatsNames,
  type PredictionEvent,
  type TickEvent,
} from "@gapfill/contracts";
import {
  createMetricsRegistry,
  loadConfig,
  openLocalObjectStore,
  openStore,
  type EmbeddingRow,
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
  metricValue,
  provisionTestTopology,
  readStreamPredictions,
  TEST_DATABASE_URL,
  TEST_SERIES_START,
  uniqueNamespace,
  waitFor,
} from "@gapfill/testkit";
import { runEvents } from "@gapfill/ml-runner";
import {
  createInferMetrics,
  createModelSlot,
  INFER_DURABLE,
  predictionPublisher,
  startInference,
  type PassDeps,
} from "../src/index.ts";
import { MODEL_JSON, publishTestModel, referenceScores, seededEmbeddings } from "./support.ts";

const SYMBOLS = ["BTCUSDT", "ETHUSDT"] as const;
const MAX_PER_SYMBOL = 20;

const ns = uniqueNamespace();
let names: NatsNames;
let nc: NatsConnection;
let store: Store;
let objects: ObjectStore;
let objectDir: string;
/** Every embedding written so far, by `<symbol>:<ts>`. */
const embeddings = new Map<string, EmbeddingRow>();
/** The next embedding time of each symbol. */
const nextTs = new Map<string, number>(SYMBOLS.map((symbol) => [symbol, TEST_SERIES_START]));
let tickWindow = 0;

beforeAll(async () => {
  nc = await connectTestNats();
  names = await provisionTestTopology(nc, ns);
  const config = loadConfig(storeConfigSchema, "test", { DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: ns });
  store = await openStore(config, { log: capturingLogger().log, access: "write" });
  objectDir = await mkdtemp(join(tmpdir(), "gapfill-infer-"));
  objects = await openLocalObjectStore({ dir: objectDir, namespace: ns });
});

afterAll(async () => {
  await store?.close();
  await objects?.close();
  await deleteNamespaceStreams(nc, ns);
  await nc?.close();
  const admin = connectTestPostgres();
  await dropTestSchema(admin, ns);
  await admin.end();
  await rm(objectDir, { recursive: true, force: true });
});

/** `count` more embeddings of every symbol, after the ones written before. */
async function addEmbeddings(count: number, seed: number): Promise<EmbeddingRow[]> {
  const rows = SYMBOLS.flatMap((symbol, s) => {
    const added = seededEmbeddings(symbol, nextTs.get(symbol)!, count, seed * 10 + s);
    nextTs.set(symbol, nextTs.get(symbol)! + count * BAR_MS);
    return added;
  });
  await store.upsertEmbeddings(rows);
  for (const row of rows) embeddings.set(`${row.symbol}:${row.ts}`, row);
  return rows;
}

/** The newest `count` embeddings of each symbol written so far. */
function newestEmbeddings(count: number): EmbeddingRow[] {
  return SYMBOLS.flatMap((symbol) => [...embeddings.values()].filter((row) => row.symbol === symbol).slice(-count));
}

interface RunningInference {
  lifecycle: ServiceLifecycle;
  registry: Registry;
  lines: Record<string, unknown>[];
  stop(): Promise<void>;
}

async function startTestInference(storeOf: (store: Store) => PassDeps["store"] = (s) => s): Promise<RunningInference> {
  const { log, lines } = capturingLogger();
  const registry = createMetricsRegistry("ml-infer-test");
  const metrics = createInferMetrics(registry);
  const slot = createModelSlot({ objects, modelJsonKey: MODEL_JSON, embeddingDim: EMBEDDING_DIM, log, metrics });
  const lifecycle = await startInference({
    nc,
    names,
    slot,
    pass: { store: storeOf(store), publish: predictionPublisher(jetstream(nc), names), log, metrics },
    settings: { symbols: SYMBOLS, maxPerSymbol: MAX_PER_SYMBOL, featureVersion: FEATURE_VERSION, embeddingDim: EMBEDDING_DIM },
    log,
    metrics,
    ackWaitMs: 5_000,
    tuning: { retry: { initialMs: 50, maxMs: 100 } },
  });
  return {
    lifecycle,
    registry,
    lines,
    stop: async () => {
      await lifecycle.stop();
      await slot.release();
    },
  };
}

/** Publishes an infer tick of a window no earlier tick had; returns its stream sequence. */
async function publishInferTick(): Promise<number> {
  tickWindow += 1;
  const tick: TickEvent = { kind: "infer", window_start: tickWindow * 1000, interval_s: 1 };
  return (await jetstream(nc).publish(names.subjects.tick("infer"), JSON.stringify(tick), { msgID: tickMsgId(tick) })).seq;
}

/** Until the infer consumer has acknowledged (or terminated) every tick up to `seq`. */
async function tickDone(seq: number): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await waitFor(async () => {
    const info = await jsm.consumers.info(names.streams.mlTicks, INFER_DURABLE);
    return info.ack_floor.stream_seq >= seq && info.num_ack_pending === 0;
  }, { what: `infer tick ${seq} to be acknowledged`, timeoutMs: 20_000 });
}

const key = (p: { symbol: string; ts: number; model_version: string }) => `${p.symbol}:${p.ts}:${p.model_version}`;
const loggedPredictions = (lines: Record<string, unknown>[]) =>
  lines.filter((line) => line.msg === "prediction").map(({ symbol, ts, prob_up, model_version, scored_at }) => ({ symbol, ts, prob_up, model_version, scored_at }) as PredictionEvent);

/** Predictions of a version in ml_predictions, by key. */
async function storedPredictions(version: string): Promise<Map<string, number>> {
  const rows = await Promise.all(SYMBOLS.map((symbol) => store.predictionsSince(symbol, { modelVersion: version, after: 0, limit: 10_000 })));
  return new Map(rows.flat().map((row) => [key(row), row.prob_up]));
}

/** The predictions must be published once each, stored with the same prob_up, and scored as the model file scores. */
async function expectAgreement(published: PredictionEvent[], logged: PredictionEvent[], onnx: Uint8Array, version: string): Promise<void> {
  expect(new Set(published.map(key)).size).toBe(published.length);
  expect(logged).toEqual(published);
  const stored = await storedPredictions(version);
  for (const prediction of published) expect(stored.get(key(prediction)), key(prediction)).toBe(prediction.prob_up);
  const reference = await referenceScores(onnx, published.map((p) => embeddings.get(`${p.symbol}:${p.ts}`)!));
  for (const prediction of published) expect(prediction.prob_up).toBeCloseTo(reference.get(`${prediction.symbol}:${prediction.ts}`)!, 6);
}

const keysOf = (rows: readonly { symbol: string; ts: number }[], version: string) => rows.map((row) => `${row.symbol}:${row.ts}:${version}`).sort();

describe("ml-infer", () => {
  let v1: Awaited<ReturnType<typeof publishTestModel>>;

  it("scores the newest embeddings at start (bounded per symbol), then only new ones per tick; subject, table and log agree", async () => {
    await addEmbeddings(30, 1);
    v1 = await publishTestModel(objects, "v1", { seed: 1 });
    const inference = await startTestInference();
    try {
      // The start pass is done when startInference resolves: the newest 20 of each symbol's 30, oldest first.
      const atStart = await readStreamPredictions(nc, ns);
      expect(atStart.map(key).sort()).toEqual(keysOf(newestEmbeddings(MAX_PER_SYMBOL), "v1"));
      for (const symbol of SYMBOLS) {
        const ts = atStart.filter((p) => p.symbol === symbol).map((p) => p.ts);
        expect(ts).toEqual([...ts].sort((a, b) => a - b));
      }
      await expectAgreement(atStart, loggedPredictions(inference.lines), v1.onnx, "v1");
      expect(await metricValue(inference.registry, "ml_infer_predictions_total", { symbol: "BTCUSDT" })).toBe(MAX_PER_SYMBOL);
      expect(await metricValue(inference.registry, "ml_infer_scoring_seconds_count")).toBe(1);

      // A tick scores what came since, and nothing else.
      const added = await addEmbeddings(3, 2);
      await tickDone(await publishInferTick());
      const afterTick = await readStreamPredictions(nc, ns);
      expect(afterTick.slice(atStart.length).map(key).sort()).toEqual(keysOf(added, "v1"));
      await expectAgreement(afterTick, loggedPredictions(inference.lines), v1.onnx, "v1");

      // Nothing new: nothing scored. A message that is no tick is terminated, not retried.
      await jetstream(nc).publish(names.subjects.tick("infer"), "not a tick");
      await tickDone(await publishInferTick());
      expect(await readStreamPredictions(nc, ns)).toHaveLength(afterTick.length);
      expect(inference.lines.some((line) => line.msg === "not an infer tick: terminated")).toBe(true);
      expect(await metricValue(inference.registry, "ml_infer_scoring_seconds_count")).toBe(2);
    } finally {
      await inference.stop();
    }
  });

  it("acknowledges a tick with a newer one behind it without a pass", async () => {
    await publishInferTick();
    const newest = await publishInferTick();
    await addEmbeddings(1, 3);
    const inference = await startTestInference();
    try {
      await tickDone(newest);
      expect(inference.lines.filter((line) => line.msg === "infer tick superseded by a newer one: acknowledged")).toHaveLength(1);
    } finally {
      await inference.stop();
    }
  });

  it("loads a new model at once on ml.model.published and scores the newest embeddings with it, without a tick", async () => {
    const inference = await startTestInference();
    try {
      const before = await readStreamPredictions(nc, ns);
      // An announcement that is not one still makes ml-infer look at the pointer; the subscription goes on.
      nc.publish(names.subjects.modelPublished, "not an event");
      await waitFor(() => inference.lines.some((line) => line.msg === "ml.model.published message is not a published-model event; reloading anyway"), {
        what: "the unreadable announcement",
      });
      const v2 = await publishTestModel(objects, "v2", { seed: 2, events: runEvents(jetstream(nc), names) });
      // The pass's summary line comes after its predictions are published, stored and logged.
      await waitFor(() => inference.lines.some((line) => line.msg === `scored ${SYMBOLS.length * MAX_PER_SYMBOL} embeddings with model v2` && line.trigger === "published"), {
        what: "the pass after the reload",
        timeoutMs: 20_000,
      });
      const withV2 = await readStreamPredictions(nc, ns);
      const fresh = withV2.slice(before.length);
      expect(fresh.map(key).sort()).toEqual(keysOf(newestEmbeddings(MAX_PER_SYMBOL), "v2"));
      await expectAgreement(fresh, loggedPredictions(inference.lines), v2.onnx, "v2");
      expect(inference.lines.some((line) => line.msg === "model v2 loaded" && line.previous === "v1" && line.trigger === "published")).toBe(true);
      expect(await metricValue(inference.registry, "ml_infer_model_loaded", { version: "v2" })).toBe(1);
    } finally {
      await inference.stop();
    }
  });

  it("repeats a pass that failed after publishing on the redelivered tick, and publishes nothing twice", async () => {
    let failures = 1;
    const inference = await startTestInference((real) => ({
      newestPrediction: (symbol, version) => real.newestPrediction(symbol, version),
      newestEmbeddings: (symbol, query) => real.newestEmbeddings(symbol, query),
      upsertPredictions: async (rows) => {
        if (failures-- > 0) throw new Error("database went away");
        await real.upsertPredictions(rows);
      },
    }));
    try {
      const before = await readStreamPredictions(nc, ns);
      const added = await addEmbeddings(2, 4);
      await tickDone(await publishInferTick());
      const after = await readStreamPredictions(nc, ns);
      expect(after.slice(before.length).map(key).sort()).toEqual(keysOf(added, "v2"));
      expect(await metricValue(inference.registry, "ml_infer_pass_failures_total", { step: "store" })).toBe(1);
      const failed = inference.lines.find((line) => line.msg === "scoring pass failed; the tick will be delivered again: store failed: database went away");
      expect(failed).toMatchObject({ step: "store", delivery: 1 });
      const repeated = inference.lines.find((line) => typeof line.msg === "string" && line.msg.startsWith(`scored ${added.length} embeddings`));
      expect(repeated).toMatchObject({ scored: added.length, published: 0, duplicates: added.length });
      // Logged once: after the table has them.
      const logged = loggedPredictions(inference.lines);
      expect(logged.map(key).sort()).toEqual(keysOf(added, "v2"));
      const stored = await storedPredictions("v2");
      for (const prediction of after.slice(before.length)) expect(stored.get(key(prediction))).toBe(prediction.prob_up);
    } finally {
      await inference.stop();
    }
  });
});
