import type { ClosedBar } from "@gapfill/contracts";

/**
 * One newest-first page of `price_15s` for one symbol. Bounds combine (AND):
 * - `before`: keyset cursor, only bars with ts < before (exclusive);
 * - `fromTs`: only bars with ts >= fromTs (inclusive);
 * - `toTs`: only bars with ts <= toTs (inclusive), so `toTs = supabase_last_ts` is exactly the complement of a
 *   gap stream that sends ts > supabase_last_ts.
 * `limit` is the exact number of bars returned when that many match; an adapter whose backend caps responses
 * (Supabase's 1,000 rows) assembles the page from several requests and is never silently short.
 */
export interface BarPageQuery {
  before?: number;
  fromTs?: number;
  toTs?: number;
  limit: number;
}

export type StoreKind = "postgres" | "supabase" | "embedded";

/** Storage of closed bars (`price_15s`), used by the gateway and the recorder. */
export interface BarStore {
  readonly kind: StoreKind;
  /** Open time (epoch ms) of the newest stored bar of the symbol, or null when it has none. */
  lastBarTs(symbol: string): Promise<number | null>;
  /** Bars in descending ts order; see BarPageQuery for the bounds. */
  pageNewestFirst(symbol: string, query: BarPageQuery): Promise<ClosedBar[]>;
  /**
   * Inserts or replaces by (symbol, ts), all in one statement/transaction (Supabase: one per 1,000 rows), and
   * validates every key first, writing nothing on a bad one. Afterwards each row equals its bar; a bar given twice
   * is stored as the later one.
   */
  upsertBars(bars: readonly ClosedBar[]): Promise<void>;
  /** Resolves when the backend answers a trivial query; for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** One row of `ai_outputs`: the embedding of a symbol at a bar time. */
export interface EmbeddingRow {
  symbol: string;
  /** Open time (epoch ms) of the newest bar of the window the embedding was computed from. */
  ts: number;
  /** float32 values (`real[]`); a read returns exactly the values written. */
  embedding: Float32Array;
  /** Layout tag: FEATURE_VERSION for the built-in embedder; every row of one tag has the same length. */
  feature_version: string;
  /** Who computed it: BUILTIN_PRODUCER for the built-in embedder. */
  producer: string;
}

/** An embedding to write: values may also be given as numbers, each of which must already be a float32 value. */
export type EmbeddingInput = Omit<EmbeddingRow, "embedding"> & { embedding: Float32Array | readonly number[] };

/**
 * Newest-first embeddings of one symbol: at most `limit`, only ts > `after` when set (an inference job passes the
 * ts of the last embedding its model version scored), only rows of `featureVersion` when set.
 */
export interface NewestEmbeddingsQuery {
  limit: number;
  after?: number;
  featureVersion?: string;
}

/**
 * A training export: every embedding with fromTs < ts <= toTs in (ts, symbol) order, of one symbol when `symbol`
 * is set, of one layout when `featureVersion` is set. Read `pageSize` rows at a time (default 1,000; Supabase
 * also splits a page at its response cap), so a range of any length is never held in memory.
 */
export interface EmbeddingExportQuery {
  fromTs: number;
  toTs: number;
  symbol?: string;
  featureVersion?: string;
  pageSize?: number;
}

/** Storage of embeddings (`ai_outputs`), used by the embedder, ml-runner and ml-infer. */
export interface EmbeddingStore {
  /**
   * Inserts or replaces by (symbol, ts), after checking every row (symbol, aligned ts, finite float32 values, one
   * length per feature_version and EMBEDDING_DIM for FEATURE_VERSION, tags); writes nothing when one is bad. A
   * key given twice is stored as the later row; -0 is stored as 0, as Postgres and JSON would.
   */
  upsertEmbeddings(rows: readonly EmbeddingInput[]): Promise<void>;
  /** ts of the newest embedding of the symbol, or null when it has none. */
  lastEmbeddingTs(symbol: string): Promise<number | null>;
  newestEmbeddings(symbol: string, query: NewestEmbeddingsQuery): Promise<EmbeddingRow[]>;
  /** Checks the query at once (StoreInputError), then reads lazily as the caller iterates. */
  exportEmbeddings(query: EmbeddingExportQuery): AsyncIterable<EmbeddingRow>;
}

/** One row of `ml_predictions`: what a model version scored for the embedding at (symbol, ts). */
export interface PredictionRow {
  symbol: string;
  /** ts of the scored embedding. */
  ts: number;
  model_version: string;
  /** Probability that the price goes up, 0..1. */
  prob_up: number;
}

/** Oldest-first predictions of one model version for one symbol with ts > `after`, at most `limit`. */
export interface PredictionsSinceQuery {
  modelVersion: string;
  after: number;
  limit: number;
}

/** Storage of predictions (`ml_predictions`), written by ml-infer and read by the gateway. */
export interface PredictionStore {
  /** Inserts or replaces by (symbol, ts, model_version); checks every row first and writes nothing on a bad one. */
  upsertPredictions(rows: readonly PredictionRow[]): Promise<void>;
  /**
   * The prediction with the newest ts for the symbol (of one model version when given): what the gateway sends
   * at connect, and where an inference job resumes. Versions scoring the same ts: the greatest version wins.
   */
  newestPrediction(symbol: string, modelVersion?: string): Promise<PredictionRow | null>;
  predictionsSince(symbol: string, query: PredictionsSinceQuery): Promise<PredictionRow[]>;
}

/** What every adapter implements and openStore returns. */
export type Store = BarStore & EmbeddingStore & PredictionStore;
