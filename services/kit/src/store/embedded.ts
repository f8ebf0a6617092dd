import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import Database, { type Database as SqliteDatabase, type Statement } from "better-sqlite3";
import type { ClosedBar } from "@gapfill/contracts";
import type { Logger } from "../log.ts";
import { checkedStore } from "./checked.ts";
import { float32Blob, float32sOfBlob } from "./float32.ts";
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
import { barsOfRows, PAGE_COLUMNS_AFTER_TS, type BarRow } from "./rows.ts";
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

export interface EmbeddedStoreOptions {
  /** Directory of the database file (`DATA_DIR`), created if missing. */
  dataDir: string;
  /** `NATS_NAMESPACE`: bars of different namespaces never share a file (empty: the default file). */
  namespace?: string;
  log: Logger;
}

export const EMBEDDED_DB_FILE = "bars.sqlite3";

/** The database file of a namespace's bars: `bars.sqlite3`, or `bars.<namespace>.sqlite3`. */
export function embeddedDbFile(namespace = ""): string {
  return namespace ? `bars.${namespace}.sqlite3` : EMBEDDED_DB_FILE;
}

/** Deletes a namespace's embedded database (and its WAL files); for disposable data, like a demo's. */
export function deleteEmbeddedStore(dataDir: string, namespace = ""): string[] {
  const base = join(resolve(dataDir), embeddedDbFile(namespace));
  const files = [base, `${base}-wal`, `${base}-shm`].filter((file) => existsSync(file));
  for (const file of files) rmSync(file);
  return files;
}

/**
 * The contracts' tables for SQLite: `ts` as epoch-ms INTEGER, prices, volumes and prob_up as REAL (IEEE doubles,
 * so every JSON number round-trips exactly), each clustered on its primary key (WITHOUT ROWID) so a page is one
 * range scan. An embedding is a BLOB of float32 little-endian: a read gives back the very bits written, in 4 bytes
 * a value (JSON text would take about 12 and need float32-exact parsing on the way back).
 */
const SCHEMA = `
  create table if not exists price_15s (
    symbol           text    not null,
    ts               integer not null,
    open             real    not null,
    high             real    not null,
    low              real    not null,
    close            real    not null,
    volume           real    not null,
    quote_volume     real    not null,
    trades           integer not null,
    taker_buy_volume real    not null default 0,
    first_agg_id     integer,
    last_agg_id      integer,
    primary key (symbol, ts)
  ) without rowid;

  create table if not exists ai_outputs (
    symbol          text    not null,
    ts              integer not null,
    embedding       blob    not null,
    feature_version text    not null default 'unversioned',
    producer        text    not null default 'external',
    created_at      integer not null default (cast(unixepoch('subsec') * 1000 as integer)),
    primary key (symbol, ts)
  ) without rowid;
  create index if not exists ai_outputs_ts_symbol on ai_outputs (ts, symbol);

  create table if not exists ml_predictions (
    symbol        text    not null,
    ts            integer not null,
    model_version text    not null,
    prob_up       real    not null check (prob_up >= 0 and prob_up <= 1),
    created_at    integer not null default (cast(unixepoch('subsec') * 1000 as integer)),
    primary key (symbol, ts, model_version)
  ) without rowid`;

const COLUMNS = "symbol, ts, open, high, low, close, volume, quote_volume, trades, taker_buy_volume, first_agg_id, last_agg_id";

// Rows already equal to the bar are left alone, so a replay writes nothing.
const UPSERT = `
  insert into price_15s (${COLUMNS})
  values (@symbol, @ts, @open, @high, @low, @close, @volume, @quote_volume, @trades, @taker_buy_volume, @first_agg_id, @last_agg_id)
  on conflict (symbol, ts) do update set
    open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close, volume = excluded.volume,
    quote_volume = excluded.quote_volume, trades = excluded.trades, taker_buy_volume = excluded.taker_buy_volume,
    first_agg_id = excluded.first_agg_id, last_agg_id = excluded.last_agg_id
  where (open, high, low, close, volume, quote_volume, trades, taker_buy_volume, first_agg_id, last_agg_id)
    is not (excluded.open, excluded.high, excluded.low, excluded.close, excluded.volume, excluded.quote_volume,
      excluded.trades, excluded.taker_buy_volume, excluded.first_agg_id, excluded.last_agg_id)`;

const UPSERT_EMBEDDING = `
  insert into ai_outputs (symbol, ts, embedding, feature_version, producer)
  values (@symbol, @ts, @embedding, @feature_version, @producer)
  on conflict (symbol, ts) do update set
    embedding = excluded.embedding, feature_version = excluded.feature_version, producer = excluded.producer
  where (embedding, feature_version, producer) is not (excluded.embedding, excluded.feature_version, excluded.producer)`;

const UPSERT_PREDICTION = `
  insert into ml_predictions (symbol, ts, model_version, prob_up) values (@symbol, @ts, @model_version, @prob_up)
  on conflict (symbol, ts, model_version) do update set prob_up = excluded.prob_up
  where prob_up is not excluded.prob_up`;

const EMBEDDING_COLUMNS = "symbol, ts, embedding, feature_version, producer";
type EmbeddingSqlRow = { symbol: string; ts: number; embedding: Buffer; feature_version: string; producer: string };
const embeddingOfRow = (row: EmbeddingSqlRow): EmbeddingRow => ({ ...row, embedding: float32sOfBlob(row.embedding) });

const PREDICTION_COLUMNS = "symbol, ts, model_version, prob_up";

/**
 * The default store when neither DATABASE_URL nor SUPABASE_URL is set: SQLite (better-sqlite3) in WAL mode under
 * DATA_DIR. Nothing to install, and the separate gateway and recorder processes share the file safely: WAL lets
 * readers run during a write, and writers wait for each other (busy_timeout) instead of failing.
 */
export function openEmbeddedStore(options: EmbeddedStoreOptions): Store {
  const dir = resolve(options.dataDir);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, embeddedDbFile(options.namespace));
  const db = new Database(file, { timeout: 10_000 });
  try {
    db.pragma("journal_mode = WAL");
    // The recorder acks JetStream after a commit, so a commit must survive a power cut: fsync the WAL on each one.
    db.pragma("synchronous = FULL");
    db.exec(SCHEMA);
  } catch (error) {
    db.close();
    throw error;
  }
  options.log.debug({ file }, "embedded store ready");
  return checkedStore(new EmbeddedStore(db), { log: options.log, target: file });
}

/**
 * All rows in one transaction. BEGIN IMMEDIATE takes the write lock up front, so two writers queue instead of
 * deadlocking on an upgrade.
 */
function writeAll<T extends object>(db: SqliteDatabase, sql: string): (rows: readonly T[]) => void {
  const statement = db.prepare<T>(sql);
  const transaction = db.transaction((rows: readonly T[]) => {
    for (const row of rows) statement.run(row);
  });
  return (rows) => transaction.immediate(rows);
}

class EmbeddedStore implements Store {
  readonly kind = "embedded" as const;
  /** Prepared statements by their SQL, so each query shape is compiled once. */
  private readonly statements = new Map<string, Statement<unknown[], unknown>>();
  private readonly upsertMany: (bars: readonly ClosedBar[]) => void;
  private readonly upsertEmbeddingRows: (rows: readonly (Omit<EmbeddingRow, "embedding"> & { embedding: Buffer })[]) => void;
  private readonly upsertPredictionRows: (rows: readonly PredictionRow[]) => void;

  private readonly db: SqliteDatabase;

  constructor(db: SqliteDatabase) {
    this.db = db;
    this.upsertMany = writeAll(db, UPSERT);
    this.upsertEmbeddingRows = writeAll(db, UPSERT_EMBEDDING);
    this.upsertPredictionRows = writeAll(db, UPSERT_PREDICTION);
  }

  private statement<R>(sql: string, raw = false): Statement<unknown[], R> {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare<unknown[], unknown>(sql);
      if (raw) statement.raw(true);
      this.statements.set(sql, statement);
    }
    return statement as Statement<unknown[], R>;
  }

  async lastBarTs(symbol: string): Promise<number | null> {
    checkSymbol(symbol);
    return this.statement<{ ts: number }>("select ts from price_15s where symbol = ? order by ts desc limit 1").get(symbol)?.ts ?? null;
  }

  async pageNewestFirst(symbol: string, query: BarPageQuery): Promise<ClosedBar[]> {
    checkSymbol(symbol);
    const { before, fromTs, toTs, limit } = checkPageQuery(query);
    const set = selectedBounds([
      ["ts < ?", before],
      ["ts >= ?", fromTs],
      ["ts <= ?", toTs],
    ]);
    const where = ["symbol = ?", ...set.conditions].join(" and ");
    const statement = this.statement<BarRow>(`select ts, ${PAGE_COLUMNS_AFTER_TS} from price_15s where ${where} order by ts desc limit ?`, true);
    return barsOfRows(symbol, statement.all(symbol, ...set.values, limit));
  }

  async upsertBars(bars: readonly ClosedBar[]): Promise<void> {
    const rows = latestBarPerKey(bars);
    if (rows.length > 0) this.upsertMany(rows);
  }

  async upsertEmbeddings(input: readonly EmbeddingInput[]): Promise<void> {
    const rows = checkEmbeddings(input);
    if (rows.length > 0) this.upsertEmbeddingRows(rows.map((row) => ({ ...row, embedding: float32Blob(row.embedding) })));
  }

  async lastEmbeddingTs(symbol: string): Promise<number | null> {
    checkSymbol(symbol);
    return this.statement<{ ts: number }>("select ts from ai_outputs where symbol = ? order by ts desc limit 1").get(symbol)?.ts ?? null;
  }

  async newestEmbeddings(symbol: string, query: NewestEmbeddingsQuery): Promise<EmbeddingRow[]> {
    checkSymbol(symbol);
    const { after, featureVersion, limit } = checkNewestEmbeddingsQuery(query);
    const set = selectedBounds([
      ["ts > ?", after],
      ["feature_version = ?", featureVersion],
    ]);
    const where = ["symbol = ?", ...set.conditions].join(" and ");
    const statement = this.statement<EmbeddingSqlRow>(`select ${EMBEDDING_COLUMNS} from ai_outputs where ${where} order by ts desc limit ?`);
    return statement.all(symbol, ...set.values, limit).map(embeddingOfRow);
  }

  exportEmbeddings(query: EmbeddingExportQuery): AsyncIterable<EmbeddingRow> {
    const { fromTs, toTs, symbol, featureVersion, pageSize } = checkExportQuery(query);
    const readPage = async (after: EmbeddingRow | undefined) => {
      const set = selectedBounds([
        ["ts <= ?", toTs],
        ["symbol = ?", symbol],
        // Across symbols the cursor is the (ts, symbol) pair, which the (ts, symbol) index serves in order.
        symbol === undefined && after !== undefined ? ["(ts, symbol) > (?, ?)", [after.ts, after.symbol]] : ["ts > ?", after?.ts ?? fromTs],
        ["feature_version = ?", featureVersion],
      ]);
      const statement = this.statement<EmbeddingSqlRow>(
        `select ${EMBEDDING_COLUMNS} from ai_outputs where ${set.conditions.join(" and ")} order by ts, symbol limit ?`,
      );
      return statement.all(...set.values, pageSize).map(embeddingOfRow);
    };
    return keysetPages(readPage, pageSize);
  }

  async upsertPredictions(input: readonly PredictionRow[]): Promise<void> {
    const rows = checkPredictions(input);
    if (rows.length > 0) this.upsertPredictionRows(rows);
  }

  async newestPrediction(symbol: string, modelVersion?: string): Promise<PredictionRow | null> {
    checkSymbol(symbol);
    checkOptionalModelVersion(modelVersion);
    const set = selectedBounds([["model_version = ?", modelVersion]]);
    const where = ["symbol = ?", ...set.conditions].join(" and ");
    const statement = this.statement<PredictionRow>(
      `select ${PREDICTION_COLUMNS} from ml_predictions where ${where} order by ts desc, model_version desc limit 1`,
    );
    return statement.get(symbol, ...set.values) ?? null;
  }

  async predictionsSince(symbol: string, query: PredictionsSinceQuery): Promise<PredictionRow[]> {
    checkSymbol(symbol);
    const { modelVersion, after, limit } = checkPredictionsSinceQuery(query);
    return this.statement<PredictionRow>(
      `select ${PREDICTION_COLUMNS} from ml_predictions where symbol = ? and model_version = ? and ts > ? order by ts limit ?`,
    ).all(symbol, modelVersion, after, limit);
  }

  async ping(): Promise<void> {
    this.statement("select 1").get();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

/**
 * The conditions whose value is set, with their values in order; a value that is an array fills several
 * placeholders. Only set bounds go into the SQL, so each shape is a plain index range scan.
 */
function selectedBounds(bounds: readonly (readonly [string, unknown])[]): { conditions: string[]; values: unknown[] } {
  const set = bounds.filter(([, value]) => value !== undefined);
  return { conditions: set.map(([condition]) => condition), values: set.flatMap(([, value]) => (Array.isArray(value) ? value : [value])) };
}
