import postgres, { type PendingQuery, type Row, type Sql } from "postgres";
import type { ClosedBar } from "@gapfill/contracts";
import type { Logger } from "../log.ts";
import { barsOfRows, PAGE_COLUMNS_AFTER_TS, type BarRow } from "./rows.ts";
import {
  checkEmbeddings,
  checkExportQuery,
  checkNewestEmbeddingsQuery,
  checkOptionalModelVersion,
  checkPageQuery,
  checkPredictions,
  checkPredictionsSinceQuery,
  checkSymbol,
  latestBarPerKey,
} from "./input.ts";
import { keysetPages } from "./keyset.ts";
import { applyMigrations } from "./migrations.ts";
import type {
  BarPageQuery,
  EmbeddingExportQuery,
  EmbeddingInput,
  EmbeddingRow,
  NewestEmbeddingsQuery,
  PredictionRow,
  PredictionsSinceQuery,
  Store,
} from "./types.ts";
import { withTimeout } from "../timeout.ts";
import { describeFailure } from "../failure.ts";
import { checkedStore } from "./checked.ts";
import { StoreUnavailableError } from "./errors.ts";

export interface PostgresStoreOptions {
  url: string;
  /** false for a transaction-mode pooler (Supabase port 6543, PgBouncer), which cannot keep prepared statements. */
  prepare: boolean;
  /** Schema holding price_15s (created if missing); unset: the server's search_path (`public`). */
  schema?: string;
  log: Logger;
  /** Shown in pg_stat_activity, so an operator can tell the gateway's connections from the recorder's. */
  applicationName?: string;
  /** Largest number of connections in the pool. */
  maxConnections?: number;
  /** An operation taking longer is failed and its pool replaced (default 30 s). */
  queryTimeoutMs?: number;
}

/** Postgres types returned as strings by default: numeric and int8 become JS numbers (the bars' wire form). */
const NUMBER_TYPES = {
  numeric: { to: 1700, from: [1700], serialize: (value: number) => String(value), parse: (raw: string) => Number(raw) },
  int8: { to: 20, from: [20], serialize: (value: number) => String(value), parse: (raw: string) => Number(raw) },
};

/**
 * A page row (see BarRow), `ts` as epoch ms. The output column shadows the table's `ts`, so ORDER BY must name
 * `price_15s.ts`: ordering by the alias would sort every row instead of walking the primary-key index backwards
 * (measured: 5x slower on a 50,000-bar table).
 */
const PAGE_COLUMNS = `(extract(epoch from ts) * 1000)::int8 as ts, ${PAGE_COLUMNS_AFTER_TS}`;

/**
 * Embedding rows as selected: real[] is read as float8[] (exact: every float32 is a double), so the values come
 * back bit for bit whatever the text form of a real would have rounded to.
 */
const EMBEDDING_COLUMNS = "symbol, (extract(epoch from ts) * 1000)::int8 as ts, embedding::float8[] as embedding, feature_version, producer";
type EmbeddingSqlRow = [string, number, number[], string, string];
const embeddingOfRow = ([symbol, ts, values, feature_version, producer]: EmbeddingSqlRow): EmbeddingRow => ({
  symbol,
  ts,
  embedding: Float32Array.from(values),
  feature_version,
  producer,
});

const PREDICTION_COLUMNS = "symbol, (extract(epoch from ts) * 1000)::int8 as ts, model_version, prob_up";
type PredictionSqlRow = [string, number, string, number];
const predictionOfRow = ([symbol, ts, model_version, prob_up]: PredictionSqlRow): PredictionRow => ({ symbol, ts, model_version, prob_up });

/** A JS number as a timestamptz: epoch ms to a Postgres expression over an int8 parameter. */
const EPOCH_MS = "'epoch'::timestamptz + interval '1 millisecond' *";

/** An operation that neither settled nor failed in this long is taken as a dead connection. */
const DEFAULT_QUERY_TIMEOUT_MS = 30_000;

/**
 * Whether an error leaves the pool trustworthy: a plain SQL error does; a lost, refused or reset connection, or a
 * server-side termination (SQLSTATE class 08, 57), does not.
 */
function isCleanSqlError(error: unknown): boolean {
  return error instanceof postgres.PostgresError && !/^(08|57)/.test(error.code);
}

/** Where a connection string points, without its credentials: safe to log. */
export function describeDatabaseUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.hostname}${parsed.port ? `:${parsed.port}` : ""}${parsed.pathname}`;
}

/** Direct Postgres (`DATABASE_URL`), also a Supabase direct or pooled connection string. */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const connect = () =>
    postgres(options.url, {
      prepare: options.prepare,
      max: options.maxConnections ?? 10,
      connect_timeout: 10,
      onnotice: () => {},
      types: NUMBER_TYPES,
      connection: {
        application_name: options.applicationName ?? "gapfill",
        ...(options.schema ? { search_path: options.schema } : {}),
      },
    }) as unknown as Sql;
  const sql = connect();
  try {
    const applied = await withTimeout(applyMigrations(sql, options.schema), options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS, "applying the schema");
    options.log.debug({ applied }, "store schema applied");
  } catch (error) {
    void sql.end({ timeout: 0 }).catch(() => {});
    throw new StoreUnavailableError("postgres", "open", describeFailure(error), { cause: error });
  }
  const store = new PostgresStore(sql, connect, options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS, options.log);
  return checkedStore(store, { log: options.log, target: describeDatabaseUrl(options.url) });
}

class PostgresStore implements Store {
  readonly kind = "postgres" as const;

  private sql: Sql;
  private readonly connect: () => Sql;
  private readonly queryTimeoutMs: number;
  private readonly log: Logger;

  constructor(
    sql: Sql,
    connect: () => Sql,
    queryTimeoutMs: number,
    log: Logger,
  ) {
    this.sql = sql;
    this.connect = connect;
    this.queryTimeoutMs = queryTimeoutMs;
    this.log = log;
  }

  /**
   * Runs one operation on the current pool. After a connection-level failure the pool is replaced by a fresh one:
   * postgres.js can keep a reset connection marked busy (porsager/postgres#1130), after which queries queued on it
   * never settle — measured here as every query hanging after a few resets.
   */
  private async run<T>(what: string, operation: (sql: Sql) => Promise<T>): Promise<T> {
    const sql = this.sql;
    try {
      return await withTimeout(operation(sql), this.queryTimeoutMs, what);
    } catch (error) {
      if (!isCleanSqlError(error) && this.sql === sql) {
        this.log.debug({ err: error }, "Postgres connection failed: starting a fresh pool");
        this.sql = this.connect();
        void withTimeout(sql.end({ timeout: 0 }), 1000, "closing the failed pool").catch(() => {});
      }
      throw error;
    }
  }

  async lastBarTs(symbol: string): Promise<number | null> {
    checkSymbol(symbol);
    const [row] = await this.run("last bar", (sql) => sql<{ ts: number }[]>`
      select (extract(epoch from ts) * 1000)::int8 as ts from price_15s where symbol = ${symbol} order by price_15s.ts desc limit 1`);
    return row ? row.ts : null;
  }

  async pageNewestFirst(symbol: string, query: BarPageQuery): Promise<ClosedBar[]> {
    checkSymbol(symbol);
    const { before, fromTs, toTs, limit } = checkPageQuery(query);
    const rows = await this.run("page", (sql) => {
      // Only the bounds that are set go into the statement, so each shape is a plain index range scan.
      let where: PendingQuery<Row[]> = sql`symbol = ${symbol}`;
      if (before !== undefined) where = sql`${where} and ts < ${new Date(before)}`;
      if (fromTs !== undefined) where = sql`${where} and ts >= ${new Date(fromTs)}`;
      if (toTs !== undefined) where = sql`${where} and ts <= ${new Date(toTs)}`;
      return sql`
        select ${sql.unsafe(PAGE_COLUMNS)} from price_15s where ${where} order by price_15s.ts desc limit ${limit}`.values();
    });
    return barsOfRows(symbol, rows as unknown as BarRow[]);
  }

  async upsertBars(bars: readonly ClosedBar[]): Promise<void> {
    const rows = latestBarPerKey(bars);
    if (rows.length === 0) return;
    const column = <K extends keyof ClosedBar>(key: K) => rows.map((bar) => bar[key]);
    // One statement for the whole batch: each column travels as one array and unnest zips them back into rows.
    // Rows that already hold exactly these values are left alone, so a replay writes nothing.
    await this.run("upsert", (sql) => sql`
      insert into price_15s as p (symbol, ts, open, high, low, close, volume, quote_volume, trades, taker_buy_volume,
        first_agg_id, last_agg_id)
      select symbol, 'epoch'::timestamptz + ts_ms * interval '1 millisecond', open, high, low, close, volume,
        quote_volume, trades, taker_buy_volume, first_agg_id, last_agg_id
      from unnest(
        ${column("symbol")}::text[], ${column("ts")}::int8[], ${column("open")}::numeric[], ${column("high")}::numeric[],
        ${column("low")}::numeric[], ${column("close")}::numeric[], ${column("volume")}::numeric[],
        ${column("quote_volume")}::numeric[], ${column("trades")}::int8[], ${column("taker_buy_volume")}::numeric[],
        ${column("first_agg_id")}::int8[], ${column("last_agg_id")}::int8[]
      ) as b(symbol, ts_ms, open, high, low, close, volume, quote_volume, trades, taker_buy_volume, first_agg_id,
        last_agg_id)
      on conflict (symbol, ts) do update set
        open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close,
        volume = excluded.volume, quote_volume = excluded.quote_volume, trades = excluded.trades,
        taker_buy_volume = excluded.taker_buy_volume, first_agg_id = excluded.first_agg_id,
        last_agg_id = excluded.last_agg_id
      where (p.open, p.high, p.low, p.close, p.volume, p.quote_volume, p.trades, p.taker_buy_volume, p.first_agg_id,
          p.last_agg_id)
        is distinct from (excluded.open, excluded.high, excluded.low, excluded.close, excluded.volume,
          excluded.quote_volume, excluded.trades, excluded.taker_buy_volume, excluded.first_agg_id, excluded.last_agg_id)`);
  }

  async upsertEmbeddings(input: readonly EmbeddingInput[]): Promise<void> {
    const rows = checkEmbeddings(input);
    if (rows.length === 0) return;
    // Each embedding travels as the text of a real[]: String() of a float32 value is a decimal that rounds back
    // to exactly that float32.
    const literals = rows.map((row) => `{${Array.from(row.embedding, String).join(",")}}`);
    await this.run("embedding upsert", (sql) => sql`
      insert into ai_outputs as a (symbol, ts, embedding, feature_version, producer)
      select symbol, ${sql.unsafe(EPOCH_MS)} ts_ms, embedding::real[], feature_version, producer
      from unnest(${rows.map((r) => r.symbol)}::text[], ${rows.map((r) => r.ts)}::int8[], ${literals}::text[],
        ${rows.map((r) => r.feature_version)}::text[], ${rows.map((r) => r.producer)}::text[])
        as e(symbol, ts_ms, embedding, feature_version, producer)
      on conflict (symbol, ts) do update set
        embedding = excluded.embedding, feature_version = excluded.feature_version, producer = excluded.producer
      where (a.embedding, a.feature_version, a.producer) is distinct from (excluded.embedding, excluded.feature_version, excluded.producer)`);
  }

  async lastEmbeddingTs(symbol: string): Promise<number | null> {
    checkSymbol(symbol);
    const [row] = await this.run("last embedding", (sql) => sql<{ ts: number }[]>`
      select (extract(epoch from ts) * 1000)::int8 as ts from ai_outputs where symbol = ${symbol} order by ai_outputs.ts desc limit 1`);
    return row ? row.ts : null;
  }

  async newestEmbeddings(symbol: string, query: NewestEmbeddingsQuery): Promise<EmbeddingRow[]> {
    checkSymbol(symbol);
    const { after, featureVersion, limit } = checkNewestEmbeddingsQuery(query);
    const rows = await this.run("newest embeddings", (sql) => {
      let where: PendingQuery<Row[]> = sql`symbol = ${symbol}`;
      if (after !== undefined) where = sql`${where} and ts > ${new Date(after)}`;
      if (featureVersion !== undefined) where = sql`${where} and feature_version = ${featureVersion}`;
      return sql`select ${sql.unsafe(EMBEDDING_COLUMNS)} from ai_outputs where ${where} order by ai_outputs.ts desc limit ${limit}`.values();
    });
    return (rows as unknown as EmbeddingSqlRow[]).map(embeddingOfRow);
  }

  exportEmbeddings(query: EmbeddingExportQuery): AsyncIterable<EmbeddingRow> {
    const { fromTs, toTs, symbol, featureVersion, pageSize } = checkExportQuery(query);
    const readPage = (after: EmbeddingRow | undefined) =>
      this.run("embedding export", (sql) => {
        let where: PendingQuery<Row[]> = sql`ts <= ${new Date(toTs)}`;
        if (symbol !== undefined) where = sql`${where} and symbol = ${symbol} and ts > ${new Date(after?.ts ?? fromTs)}`;
        else if (after === undefined) where = sql`${where} and ts > ${new Date(fromTs)}`;
        // A row comparison walks the (ts, symbol) index from the cursor on.
        else where = sql`${where} and (ts, symbol) > (${new Date(after.ts)}, ${after.symbol})`;
        if (featureVersion !== undefined) where = sql`${where} and feature_version = ${featureVersion}`;
        return sql`select ${sql.unsafe(EMBEDDING_COLUMNS)} from ai_outputs where ${where}
          order by ai_outputs.ts, ai_outputs.symbol limit ${pageSize}`.values();
      }).then((rows) => (rows as unknown as EmbeddingSqlRow[]).map(embeddingOfRow));
    return keysetPages(readPage, pageSize);
  }

  async upsertPredictions(input: readonly PredictionRow[]): Promise<void> {
    const rows = checkPredictions(input);
    if (rows.length === 0) return;
    await this.run("prediction upsert", (sql) => sql`
      insert into ml_predictions as p (symbol, ts, model_version, prob_up)
      select symbol, ${sql.unsafe(EPOCH_MS)} ts_ms, model_version, prob_up
      from unnest(${rows.map((r) => r.symbol)}::text[], ${rows.map((r) => r.ts)}::int8[],
        ${rows.map((r) => r.model_version)}::text[], ${rows.map((r) => r.prob_up)}::float8[])
        as e(symbol, ts_ms, model_version, prob_up)
      on conflict (symbol, ts, model_version) do update set prob_up = excluded.prob_up
      where p.prob_up is distinct from excluded.prob_up`);
  }

  async newestPrediction(symbol: string, modelVersion?: string): Promise<PredictionRow | null> {
    checkSymbol(symbol);
    checkOptionalModelVersion(modelVersion);
    const [row] = await this.run("newest prediction", (sql) => {
      const where = modelVersion === undefined ? sql`symbol = ${symbol}` : sql`symbol = ${symbol} and model_version = ${modelVersion}`;
      return sql`select ${sql.unsafe(PREDICTION_COLUMNS)} from ml_predictions where ${where}
        order by ml_predictions.ts desc, model_version desc limit 1`.values();
    });
    return row ? predictionOfRow(row as unknown as PredictionSqlRow) : null;
  }

  async predictionsSince(symbol: string, query: PredictionsSinceQuery): Promise<PredictionRow[]> {
    checkSymbol(symbol);
    const { modelVersion, after, limit } = checkPredictionsSinceQuery(query);
    const rows = await this.run("predictions since", (sql) => sql`
      select ${sql.unsafe(PREDICTION_COLUMNS)} from ml_predictions
      where symbol = ${symbol} and model_version = ${modelVersion} and ts > ${new Date(after)}
      order by ml_predictions.ts limit ${limit}`.values());
    return (rows as unknown as PredictionSqlRow[]).map(predictionOfRow);
  }

  async ping(): Promise<void> {
    await this.run("ping", (sql) => sql`select 1`);
  }

  async close(): Promise<void> {
    // end() itself can hang after a reset connection (porsager/postgres#1130): bound it.
    await withTimeout(this.sql.end({ timeout: 5 }), 6000, "closing the pool").catch(() => {});
  }
}
