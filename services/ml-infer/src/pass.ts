import { ModelOutputError, type EmbeddingRow, type Logger, type ScoringModel, type Store } from "@gapfill/kit";
import { predictionEvents, scoringBatch, type ScoringBatch } from "./batch.ts";
import type { InferMetrics } from "./metrics.ts";
import type { LoadedModel } from "./model-slot.ts";
import type { PredictionPublisher } from "./publisher.ts";

export const PASS_STEPS = ["read", "score", "publish", "store"] as const;
export type PassStep = (typeof PASS_STEPS)[number];

/** A scoring pass failed at `step`; nothing after it was done (the cursor in ml_predictions has not moved). */
export class PassStepError extends Error {
  override name = "PassStepError";
  readonly step: PassStep;

  constructor(
    step: PassStep,
    cause: unknown,
  ) {
    super(`${step} failed: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.step = step;
  }
}

export interface PassDeps {
  store: Pick<Store, "newestPrediction" | "newestEmbeddings" | "upsertPredictions">;
  publish: PredictionPublisher;
  log: Logger;
  metrics: InferMetrics;
  now?: () => Date;
}

export interface PassSettings {
  symbols: readonly string[];
  /** ML_INFER_MAX_PER_TICK: embeddings scored per symbol and pass at most, the newest ones. */
  maxPerSymbol: number;
  /** FEATURE_VERSION: only embeddings of the layout the model was trained on. */
  featureVersion: string;
  embeddingDim: number;
}

export interface PassResult {
  version: string;
  /** Embeddings scored, every symbol together. */
  scored: number;
  /** Predictions the stream took, and those it already had (a repeated pass within its duplicate window). */
  published: number;
  duplicates: number;
}

async function step<T>(name: PassStep, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw new PassStepError(name, error);
  }
}

interface ScoredBatch {
  keys: ScoringBatch["keys"];
  probabilities: Float32Array;
  /** Rows the model gave no valid output for, with why. */
  refused: { symbol: string; ts: number; reason: string }[];
}

/**
 * prob_up of every row of the batch in one run; when the model gives an output outside [0, 1] for some row (an
 * embedding unlike any it was trained on), the rows are scored one by one and only those are left out, so one such
 * embedding never stops the others from being scored.
 */
async function scoreBatch(scorer: ScoringModel, batch: ScoringBatch, dimension: number): Promise<ScoredBatch> {
  try {
    return { keys: batch.keys, probabilities: await scorer.score(batch.matrix), refused: [] };
  } catch (error) {
    if (!(error instanceof ModelOutputError)) throw error;
  }
  const keys: ScoringBatch["keys"] = [];
  const probabilities: number[] = [];
  const refused: ScoredBatch["refused"] = [];
  for (const [i, key] of batch.keys.entries()) {
    try {
      const [p] = await scorer.score(batch.matrix.subarray(i * dimension, (i + 1) * dimension));
      keys.push(key);
      probabilities.push(p!);
    } catch (error) {
      if (!(error instanceof ModelOutputError)) throw error;
      refused.push({ ...key, reason: error.message });
    }
  }
  return { keys, probabilities: Float32Array.from(probabilities), refused };
}

/**
 * One scoring pass with the model in use: per symbol, the newest embeddings (at most maxPerSymbol) after the newest
 * one this model version has a prediction for, all symbols in one batch. Effects in this order: publish (message ids
 * make a repeat harmless), then upsert into ml_predictions (which moves the cursor: a pass that failed before it
 * scores the same rows again, and publishes nothing twice), then one log line per prediction.
 */
export async function scorePass(deps: PassDeps, settings: PassSettings, model: LoadedModel): Promise<PassResult> {
  const { store, log, metrics } = deps;
  const now = deps.now ?? (() => new Date());
  const version = model.version;
  const rows = await step("read", async () => {
    const all: EmbeddingRow[] = [];
    for (const symbol of settings.symbols) {
      const cursor = await store.newestPrediction(symbol, version);
      const newest = await store.newestEmbeddings(symbol, {
        limit: settings.maxPerSymbol,
        featureVersion: settings.featureVersion,
        ...(cursor ? { after: cursor.ts } : {}),
      });
      // Newest first from the store; scored and published oldest first.
      all.push(...newest.reverse());
    }
    return all;
  });
  const batch = scoringBatch(rows, settings.embeddingDim);
  for (const row of batch.skipped) {
    log.warn({ ...row, dimension: settings.embeddingDim, feature_version: settings.featureVersion }, "embedding of another length than its feature version's: not scored");
  }
  if (batch.keys.length === 0) return { version, scored: 0, published: 0, duplicates: 0 };

  const scored = await step("score", async () => {
    const started = performance.now();
    const result = await scoreBatch(model.scorer, batch, settings.embeddingDim);
    metrics.scoringSeconds.observe((performance.now() - started) / 1000);
    return result;
  });
  for (const row of scored.refused) log.warn({ ...row, version }, "the model's output for this embedding breaks the contract: not scored");
  const predictions = predictionEvents(scored.keys, scored.probabilities, version, now());
  if (predictions.length === 0) return { version, scored: 0, published: 0, duplicates: 0 };
  const { published, duplicates } = await step("publish", () => deps.publish(predictions));
  await step("store", () => store.upsertPredictions(predictions.map(({ symbol, ts, model_version, prob_up }) => ({ symbol, ts, model_version, prob_up }))));

  const perSymbol = new Map<string, number>();
  for (const prediction of predictions) {
    log.info(prediction, "prediction");
    perSymbol.set(prediction.symbol, (perSymbol.get(prediction.symbol) ?? 0) + 1);
  }
  for (const [symbol, count] of perSymbol) metrics.predictions.inc({ symbol }, count);
  return { version, scored: predictions.length, published, duplicates };
}
