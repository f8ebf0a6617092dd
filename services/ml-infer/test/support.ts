/**
 * Test support for ml-infer: models published the way ml-runner publishes them (its ONNX export, manifest and
 * publish step, so the files and latest.json are the real layout), and seeded embeddings a model scores to proper
 * probabilities.
 */
import { BAR_MS, EMBEDDING_DIM, FEATURE_VERSION, type ModelManifest } from "@gapfill/contracts";
import { loadScoringModel, type EmbeddingRow, type ObjectStore } from "@gapfill/kit";
import { seededWords } from "@gapfill/testkit";
import { MODEL_FILE, modelManifestFor, mlpToOnnx, publishVersion, type Mlp, type RunEvents } from "@gapfill/ml-runner";

export const MODEL_PREFIX = "model";
export const MODEL_JSON = "model/latest.json";

/** Uniform in [-1, 1) from a seeded word source. */
const unit = (word: () => number) => word() / 2 ** 31 - 1;

/** A small network with seeded weights: each seed gives another model, and so other probabilities. */
export function testMlp(seed: number, dimension: number = EMBEDDING_DIM, hidden = 4): Mlp {
  const word = seededWords(seed);
  const values = (count: number) => Float32Array.from({ length: count }, () => unit(word));
  return { dimension, hidden, w1: values(hidden * dimension), b1: values(hidden), w2: values(hidden), b2: values(1) };
}

/** Announcements are not what these tests look at unless they pass real ones. */
const silentEvents: RunEvents = { started: async () => {}, finished: async () => {}, failed: async () => {}, published: async () => {} };

export interface PublishedTestModel {
  manifest: ModelManifest;
  onnx: Uint8Array;
}

/**
 * Publishes a seeded model as `version` as ml-runner does (model.onnx, metrics.json, model.json, then latest.json,
 * then `ml.model.published` through `events` when given).
 */
export async function publishTestModel(
  objects: ObjectStore,
  version: string,
  options: {
    seed: number;
    /** The dimension latest.json declares (default EMBEDDING_DIM). */
    dimension?: number;
    /** The dimension of the ONNX graph itself, when it should differ from the declared one. */
    graphDimension?: number;
    events?: RunEvents;
    at?: Date;
  },
): Promise<PublishedTestModel> {
  const onnx = mlpToOnnx(testMlp(options.seed, options.graphDimension ?? options.dimension));
  const metricsText = "{}\n";
  const at = options.at ?? new Date();
  const manifest = modelManifestFor({
    version,
    createdAt: at,
    modelPrefix: MODEL_PREFIX,
    onnx,
    metricsText,
    dimension: options.dimension ?? EMBEDDING_DIM,
    metrics: { holdout_rows: 10, base_rate: 0.5, log_loss: 0.69, no_skill_log_loss: 0.69, auc: 0.5, accuracy: 0.5, train_rows: 40, embargoed_rows: 0 },
    trainer: { kind: "local", jobName: null, instanceType: null },
  });
  await publishVersion(
    { objects, events: options.events ?? silentEvents, modelJsonKey: MODEL_JSON },
    { modelPrefix: MODEL_PREFIX, manifest, onnx, metricsText },
    { by: "run", runId: version },
    at,
  );
  return { manifest, onnx };
}

/** Key of a published version's model.onnx. */
export const modelFileKey = (version: string) => `${MODEL_PREFIX}/${version}/${MODEL_FILE}`;

/** `count` built-in-layout embeddings of `symbol` at consecutive bar times from `fromTs`, values in [-1, 1). */
export function seededEmbeddings(symbol: string, fromTs: number, count: number, seed = 1): EmbeddingRow[] {
  const word = seededWords(seed);
  return Array.from({ length: count }, (_, i) => ({
    symbol,
    ts: fromTs + i * BAR_MS,
    embedding: Float32Array.from({ length: EMBEDDING_DIM }, () => unit(word)),
    feature_version: FEATURE_VERSION,
    producer: "test",
  }));
}

/** What a model file gives for these embeddings through onnxruntime: the reference the predictions must equal. */
export async function referenceScores(onnx: Uint8Array, rows: readonly EmbeddingRow[]): Promise<Map<string, number>> {
  const scorer = await loadScoringModel(onnx, EMBEDDING_DIM);
  try {
    const scores = await scorer.score(rows.map((row) => Array.from(row.embedding)));
    return new Map(rows.map((row, i) => [`${row.symbol}:${row.ts}`, scores[i]!]));
  } finally {
    await scorer.release();
  }
}
