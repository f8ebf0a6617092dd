import type { TrainingRow } from "@gapfill/contracts";

/**
 * Training rows as columns, oldest first: what the trainer, the split and the metrics read without a per-row
 * object. Embeddings are float32 because that is what the ONNX model is fed.
 */
export interface LabelledRows {
  readonly count: number;
  readonly dimension: number;
  /** Epoch ms, ascending. */
  readonly ts: Float64Array;
  /** count × dimension, row-major. */
  readonly embeddings: Float32Array;
  readonly labels: Uint8Array;
}

export class TrainingDataError extends Error {
  override name = "TrainingDataError";
}

/** Columns of the rows sorted by ts (stable, so rows of one ts keep their export order). */
export function labelledRows(rows: readonly TrainingRow[], dimension: number): LabelledRows {
  const order = rows.map((_, i) => i).sort((a, b) => rows[a]!.ts - rows[b]!.ts);
  const ts = new Float64Array(rows.length);
  const embeddings = new Float32Array(rows.length * dimension);
  const labels = new Uint8Array(rows.length);
  order.forEach((from, to) => {
    const row = rows[from]!;
    if (row.embedding.length !== dimension) {
      throw new TrainingDataError(`row ${from} (${row.symbol} ${row.ts}): embedding has ${row.embedding.length} numbers, expected ${dimension}`);
    }
    ts[to] = row.ts;
    embeddings.set(row.embedding, to * dimension);
    labels[to] = row.label;
  });
  return { count: rows.length, dimension, ts, embeddings, labels };
}

/** Rows [start, end) as views on the same columns. */
export function rowRange(rows: LabelledRows, start: number, end: number): LabelledRows {
  return {
    count: end - start,
    dimension: rows.dimension,
    ts: rows.ts.subarray(start, end),
    embeddings: rows.embeddings.subarray(start * rows.dimension, end * rows.dimension),
    labels: rows.labels.subarray(start, end),
  };
}
