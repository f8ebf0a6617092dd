import { isAlignedBarTs } from "@gapfill/contracts";
import type { BarPageQuery, EmbeddingRow } from "./types.ts";

/**
 * Checks of what a backend answered, against what the store's callers are promised (types.ts): the shape and types
 * of every row, that rows belong to what was asked for (symbol, bounds, limit) and come in the promised order. Each
 * returns null when the answer is sound, else what is wrong with it, for a StoreUnavailableError. Domain rules
 * between fields (high >= low) are not checked: a stored row keeps whatever it was written with.
 */
export type AnswerProblem = string | null;

/** A value as a short phrase for a message: `null`, `an object`, `"abc"`, `12.5`. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value instanceof Uint8Array || value instanceof Float32Array) return `${value.constructor.name} of ${value.length}`;
  if (typeof value === "object") return "an object";
  const text = typeof value === "string" ? JSON.stringify(value) : String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

const isFiniteNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isCount = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;
const isBarTs = (v: unknown): v is number => typeof v === "number" && isAlignedBarTs(v);

const BAR_NUMBERS = ["open", "high", "low", "close", "volume", "quote_volume", "taker_buy_volume"] as const;

function fieldProblem(row: Record<string, unknown>, field: string, expected: string): string {
  return `${field} is ${describeValue(row[field])}, expected ${expected}`;
}

function rowProblem(row: unknown, index: number, check: (row: Record<string, unknown>) => string | null): AnswerProblem {
  if (typeof row !== "object" || row === null || Array.isArray(row)) return `row ${index} is ${describeValue(row)}, expected an object`;
  const problem = check(row as Record<string, unknown>);
  return problem === null ? null : `row ${index}: ${problem}`;
}

function listProblem(rows: unknown, what: string, limit: number | undefined): AnswerProblem {
  if (!Array.isArray(rows)) return `${describeValue(rows)} where a list of ${what} was expected`;
  if (limit !== undefined && rows.length > limit) return `${rows.length} ${what} where at most ${limit} were asked for`;
  return null;
}

function keyProblem(row: Record<string, unknown>, symbol: string | undefined): string | null {
  if (typeof row.symbol !== "string" || (symbol !== undefined && row.symbol !== symbol)) {
    return fieldProblem(row, "symbol", symbol === undefined ? "a symbol" : JSON.stringify(symbol));
  }
  if (!isBarTs(row.ts)) return fieldProblem(row, "ts", "a bar open time in epoch ms");
  return null;
}

function barFieldsProblem(bar: Record<string, unknown>, symbol: string): string | null {
  const key = keyProblem(bar, symbol);
  if (key) return key;
  // Named loads, not bar[field] over a list: this runs 5,000 times a page.
  const numbers =
    isFiniteNumber(bar.open) && isFiniteNumber(bar.high) && isFiniteNumber(bar.low) && isFiniteNumber(bar.close) &&
    isFiniteNumber(bar.volume) && isFiniteNumber(bar.quote_volume) && isFiniteNumber(bar.taker_buy_volume);
  if (!numbers) return fieldProblem(bar, BAR_NUMBERS.find((field) => !isFiniteNumber(bar[field]))!, "a finite number");
  if (!isCount(bar.trades)) return fieldProblem(bar, "trades", "a count");
  if (bar.first_agg_id !== null && !isCount(bar.first_agg_id)) return fieldProblem(bar, "first_agg_id", "an id or null");
  if (bar.last_agg_id !== null && !isCount(bar.last_agg_id)) return fieldProblem(bar, "last_agg_id", "an id or null");
  return null;
}

/** Bars of one symbol, newest first, within the query's bounds and limit. Runs on every page read: a plain loop. */
export function barPageProblem(rows: unknown, symbol: string, query: BarPageQuery): AnswerProblem {
  const listed = listProblem(rows, "bars", query.limit);
  if (listed) return listed;
  const list = rows as unknown[];
  const lowest = query.fromTs ?? -Infinity;
  const highest = Math.min(query.toTs ?? Infinity, query.before === undefined ? Infinity : query.before - 1);
  const checkBar = (bar: Record<string, unknown>) => barFieldsProblem(bar, symbol);
  let previous = Infinity;
  for (let index = 0; index < list.length; index++) {
    const problem = rowProblem(list[index], index, checkBar);
    if (problem) return problem;
    const ts = (list[index] as { ts: number }).ts;
    if (ts >= previous) return `row ${index}: ts ${ts} is not below the row before (${previous}): expected newest first`;
    if (ts < lowest || ts > highest) return `row ${index}: ts ${ts} is outside the bounds asked for`;
    previous = ts;
  }
  return null;
}

/** The ts of a newest row: null, or a bar open time. */
export function newestTsProblem(ts: unknown): AnswerProblem {
  return ts === null || isBarTs(ts) ? null : `${describeValue(ts)} where a bar open time or null was expected`;
}

function embeddingRowProblem(row: Record<string, unknown>, symbol: string | undefined, featureVersion: string | undefined): string | null {
  const key = keyProblem(row, symbol);
  if (key) return key;
  if (!(row.embedding instanceof Float32Array) || row.embedding.length === 0) return fieldProblem(row, "embedding", "float32 values");
  if (typeof row.feature_version !== "string" || (featureVersion !== undefined && row.feature_version !== featureVersion)) {
    return fieldProblem(row, "feature_version", featureVersion === undefined ? "a tag" : JSON.stringify(featureVersion));
  }
  if (typeof row.producer !== "string") return fieldProblem(row, "producer", "a tag");
  return null;
}

/** Embeddings of one symbol, newest first, newer than `after`, at most `limit`. */
export function newestEmbeddingsProblem(
  rows: unknown,
  symbol: string,
  query: { limit: number; after?: number; featureVersion?: string },
): AnswerProblem {
  const listed = listProblem(rows, "embeddings", query.limit);
  if (listed) return listed;
  let previous = Infinity;
  for (const [index, row] of (rows as unknown[]).entries()) {
    const problem = rowProblem(row, index, (embedding) => {
      const fields = embeddingRowProblem(embedding, symbol, query.featureVersion);
      if (fields) return fields;
      const ts = embedding.ts as number;
      if (ts >= previous) return `ts ${ts} is not below the row before (${previous}): expected newest first`;
      if (query.after !== undefined && ts <= query.after) return `ts ${ts} is not after ${query.after}`;
      previous = ts;
      return null;
    });
    if (problem) return problem;
  }
  return null;
}

/** One row of an export: in (ts, symbol) order after `previous`, within (fromTs, toTs]. */
export function exportedEmbeddingProblem(
  row: unknown,
  index: number,
  previous: EmbeddingRow | undefined,
  query: { fromTs: number; toTs: number; symbol?: string; featureVersion?: string },
): AnswerProblem {
  return rowProblem(row, index, (embedding) => {
    const fields = embeddingRowProblem(embedding, query.symbol, query.featureVersion);
    if (fields) return fields;
    const ts = embedding.ts as number;
    if (ts <= query.fromTs || ts > query.toTs) return `ts ${ts} is outside the range asked for`;
    const ordered = previous === undefined || ts > previous.ts || (ts === previous.ts && (embedding.symbol as string) > previous.symbol);
    return ordered ? null : `(${ts}, ${String(embedding.symbol)}) does not follow the row before: expected (ts, symbol) order`;
  });
}

function predictionRowProblem(row: Record<string, unknown>, symbol: string, modelVersion: string | undefined): string | null {
  const key = keyProblem(row, symbol);
  if (key) return key;
  if (typeof row.model_version !== "string" || (modelVersion !== undefined && row.model_version !== modelVersion)) {
    return fieldProblem(row, "model_version", modelVersion === undefined ? "a model version" : JSON.stringify(modelVersion));
  }
  const p = row.prob_up;
  if (typeof p !== "number" || !(p >= 0 && p <= 1)) return fieldProblem(row, "prob_up", "a number from 0 to 1");
  return null;
}

export function newestPredictionProblem(row: unknown, symbol: string, modelVersion: string | undefined): AnswerProblem {
  return row === null ? null : rowProblem(row, 0, (prediction) => predictionRowProblem(prediction, symbol, modelVersion));
}

/** Predictions of one symbol and version, oldest first, after `after`, at most `limit`. */
export function predictionsSinceProblem(rows: unknown, symbol: string, query: { modelVersion: string; after: number; limit: number }): AnswerProblem {
  const listed = listProblem(rows, "predictions", query.limit);
  if (listed) return listed;
  let previous = query.after;
  for (const [index, row] of (rows as unknown[]).entries()) {
    const problem = rowProblem(row, index, (prediction) => {
      const fields = predictionRowProblem(prediction, symbol, query.modelVersion);
      if (fields) return fields;
      const ts = prediction.ts as number;
      if (ts <= previous) return `ts ${ts} is not after ${previous}: expected oldest first, after the ts asked for`;
      previous = ts;
      return null;
    });
    if (problem) return problem;
  }
  return null;
}
