import {
  describeIssues,
  EMBEDDING_DIM,
  FEATURE_VERSION,
  isAlignedBarTs,
  modelVersionSchema,
  symbolSchema,
  type ClosedBar,
} from "@gapfill/contracts";
import { StoreInputError } from "./errors.ts";
import type {
  BarPageQuery,
  EmbeddingExportQuery,
  EmbeddingInput,
  EmbeddingRow,
  NewestEmbeddingsQuery,
  PredictionRow,
  PredictionsSinceQuery,
} from "./types.ts";

/** Largest page any adapter serves in one call; the gateway's BOOTSTRAP_PAGE_LIMIT cannot exceed it. */
export const MAX_PAGE_LIMIT = 100_000;

/** Longest embedding the store accepts. */
export const MAX_EMBEDDING_DIM = 4096;

/** Rows an export reads per request unless told otherwise (Supabase's default response cap). */
export const DEFAULT_EXPORT_PAGE_SIZE = 1000;

/** feature_version and producer tags: short, printable, safe in logs and file names. */
const TAG_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;

export function checkSymbol(symbol: unknown): string {
  const parsed = symbolSchema.safeParse(symbol);
  if (!parsed.success) {
    throw new StoreInputError(`symbol ${JSON.stringify(symbol)}: ${describeIssues(parsed.error)}`);
  }
  return parsed.data;
}

function checkEpochMs(name: string, value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new StoreInputError(`${name}: expected epoch milliseconds (a non-negative integer), got ${JSON.stringify(value)}`);
  }
}

function checkLimit(name: string, limit: unknown): void {
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT) {
    throw new StoreInputError(`${name}: expected an integer from 1 to ${MAX_PAGE_LIMIT}, got ${JSON.stringify(limit)}`);
  }
}

function checkTag(name: string, value: unknown): void {
  if (typeof value !== "string" || !TAG_PATTERN.test(value)) {
    throw new StoreInputError(`${name}: expected 1-64 letters, digits or ._:- characters, got ${JSON.stringify(value)}`);
  }
}

function checkModelVersion(name: string, value: unknown): void {
  const parsed = modelVersionSchema.safeParse(value);
  if (!parsed.success) throw new StoreInputError(`${name} ${JSON.stringify(value)}: ${describeIssues(parsed.error)}`);
}

/** Validates a page request; returns it unchanged so callers can keep one name for it. */
export function checkPageQuery(query: BarPageQuery): BarPageQuery {
  checkLimit("limit", query.limit);
  checkEpochMs("before", query.before);
  checkEpochMs("fromTs", query.fromTs);
  checkEpochMs("toTs", query.toTs);
  return query;
}

export function checkNewestEmbeddingsQuery(query: NewestEmbeddingsQuery): NewestEmbeddingsQuery {
  checkLimit("limit", query.limit);
  checkEpochMs("after", query.after);
  if (query.featureVersion !== undefined) checkTag("featureVersion", query.featureVersion);
  return query;
}

/** Validates an export request and fills in its page size. */
export function checkExportQuery(query: EmbeddingExportQuery): EmbeddingExportQuery & { pageSize: number } {
  checkEpochMs("fromTs", query.fromTs);
  checkEpochMs("toTs", query.toTs);
  if (query.fromTs === undefined || query.toTs === undefined || query.fromTs > query.toTs) {
    throw new StoreInputError(`fromTs and toTs: expected a range with fromTs <= toTs, got ${JSON.stringify([query.fromTs, query.toTs])}`);
  }
  if (query.symbol !== undefined) checkSymbol(query.symbol);
  if (query.featureVersion !== undefined) checkTag("featureVersion", query.featureVersion);
  const pageSize = query.pageSize ?? DEFAULT_EXPORT_PAGE_SIZE;
  checkLimit("pageSize", pageSize);
  return { ...query, pageSize };
}

export function checkPredictionsSinceQuery(query: PredictionsSinceQuery): PredictionsSinceQuery {
  checkModelVersion("modelVersion", query.modelVersion);
  checkEpochMs("after", query.after);
  if (query.after === undefined) throw new StoreInputError("after: expected epoch milliseconds, got undefined");
  checkLimit("limit", query.limit);
  return query;
}

export function checkOptionalModelVersion(modelVersion: string | undefined): void {
  if (modelVersion !== undefined) checkModelVersion("modelVersion", modelVersion);
}

/** Checks a row's key (symbol, aligned ts); `what` names the row in the message. */
function checkRowKey(row: { symbol: unknown; ts: unknown }, what: string): void {
  checkSymbol(row.symbol);
  if (!isAlignedBarTs(row.ts as number)) {
    throw new StoreInputError(`ts ${JSON.stringify(row.ts)} of a ${String(row.symbol)} ${what}: expected a bar open time (a multiple of 15000)`);
  }
}

/**
 * Keeps only the last row per key, in first-seen order: a batch may carry a replayed row twice, and one multi-row
 * upsert must not touch the same row twice.
 */
function lastPerKey<T>(rows: readonly T[], keyOf: (row: T) => string): T[] {
  const byKey = new Map<string, T>();
  for (const row of rows) byKey.set(keyOf(row), row);
  return [...byKey.values()];
}

/** Checks the key of every bar (symbol, aligned ts) and keeps the last bar per key. */
export function latestBarPerKey(bars: readonly ClosedBar[]): ClosedBar[] {
  for (const bar of bars) checkRowKey(bar, "bar");
  return lastPerKey(bars, (bar) => `${bar.symbol}:${bar.ts}`);
}

/**
 * Checks every embedding row and keeps the last per (symbol, ts). Values come back as a Float32Array with -0
 * written as 0: Postgres' text form and JSON have no -0, so every backend stores the same bytes.
 */
export function checkEmbeddings(rows: readonly EmbeddingInput[]): EmbeddingRow[] {
  const lengthOfVersion = new Map<string, number>([[FEATURE_VERSION, EMBEDDING_DIM]]);
  const checked = rows.map((row): EmbeddingRow => {
    checkRowKey(row, "embedding");
    const where = `embedding of ${row.symbol} at ${row.ts}`;
    checkTag(`feature_version of the ${where}`, row.feature_version);
    checkTag(`producer of the ${where}`, row.producer);
    const values = row.embedding;
    if (!(values instanceof Float32Array) && !Array.isArray(values)) {
      throw new StoreInputError(`${where}: expected a Float32Array or an array of numbers`);
    }
    if (values.length < 1 || values.length > MAX_EMBEDDING_DIM) {
      throw new StoreInputError(`${where}: expected 1 to ${MAX_EMBEDDING_DIM} values, got ${values.length}`);
    }
    const expected = lengthOfVersion.get(row.feature_version) ?? values.length;
    if (values.length !== expected) {
      throw new StoreInputError(`${where}: expected ${expected} values for feature_version ${row.feature_version}, got ${values.length}`);
    }
    lengthOfVersion.set(row.feature_version, expected);
    const embedding = new Float32Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const value = values[i];
      if (typeof value !== "number" || !Number.isFinite(value) || Math.fround(value) !== value) {
        throw new StoreInputError(`${where}: value ${i} must be a finite float32 number, got ${String(value)}`);
      }
      embedding[i] = value === 0 ? 0 : value;
    }
    return { symbol: row.symbol, ts: row.ts, embedding, feature_version: row.feature_version, producer: row.producer };
  });
  return lastPerKey(checked, (row) => `${row.symbol}:${row.ts}`);
}

/** Checks every prediction row and keeps the last per (symbol, ts, model_version). */
export function checkPredictions(rows: readonly PredictionRow[]): PredictionRow[] {
  for (const row of rows) {
    checkRowKey(row, "prediction");
    checkModelVersion(`model_version of the ${row.symbol} prediction at ${row.ts}`, row.model_version);
    const p = row.prob_up;
    if (typeof p !== "number" || !(p >= 0 && p <= 1)) {
      throw new StoreInputError(`prob_up of the ${row.symbol} prediction at ${row.ts}: expected a number from 0 to 1, got ${String(p)}`);
    }
  }
  return lastPerKey(
    rows.map((row) => ({ symbol: row.symbol, ts: row.ts, model_version: row.model_version, prob_up: row.prob_up === 0 ? 0 : row.prob_up })),
    (row) => `${row.symbol}:${row.ts}:${row.model_version}`,
  );
}
