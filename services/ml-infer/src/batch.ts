import type { PredictionEvent } from "@gapfill/contracts";
import type { EmbeddingRow } from "@gapfill/kit";

/** One pass's embeddings as a single row-major batch, with the (symbol, ts) of each row. */
export interface ScoringBatch {
  keys: { symbol: string; ts: number }[];
  /** keys.length × dimension float32 values. */
  matrix: Float32Array;
  /** Rows left out because their length is not the model's dimension (an external producer's mistake). */
  skipped: { symbol: string; ts: number; length: number }[];
}

export function scoringBatch(rows: readonly EmbeddingRow[], dimension: number): ScoringBatch {
  const fitting = rows.filter((row) => row.embedding.length === dimension);
  const matrix = new Float32Array(fitting.length * dimension);
  fitting.forEach((row, i) => matrix.set(row.embedding, i * dimension));
  return {
    keys: fitting.map(({ symbol, ts }) => ({ symbol, ts })),
    matrix,
    skipped: rows.filter((row) => row.embedding.length !== dimension).map(({ symbol, ts, embedding }) => ({ symbol, ts, length: embedding.length })),
  };
}

/** The predictions of a scored batch, in the batch's order; the float32 probabilities are kept exactly. */
export function predictionEvents(
  keys: readonly { symbol: string; ts: number }[],
  probabilities: Float32Array,
  modelVersion: string,
  scoredAt: Date,
): PredictionEvent[] {
  if (probabilities.length !== keys.length) throw new RangeError(`${probabilities.length} probabilities for ${keys.length} embeddings`);
  const scored_at = scoredAt.toISOString();
  return keys.map(({ symbol, ts }, i) => ({ symbol, ts, prob_up: probabilities[i]!, model_version: modelVersion, scored_at }));
}
