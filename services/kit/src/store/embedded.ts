import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import Database, { type Database as SqliteDatabase, type Statement } from "better-sqlite3";
import type { ClosedBar } from "@gapfill/contracts";
import type { Logger } from "../log.ts";
import { barsOfRows, PAGE_COLUMNS_AFTER_TS, type BarRow } from "./rows.ts";
import { checkPageQuery, checkSymbol, latestBarPerKey } from "./input.ts";
import type { BarPageQuery, BarStore } from "./types.ts";

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
 * price_15s for SQLite: `ts` as epoch-ms INTEGER, prices and volumes as REAL (IEEE doubles, so every JSON number
 * round-trips exactly), clustered on the primary key (WITHOUT ROWID) so a newest-first page is one range scan.
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

/**
 * The default store when neither DATABASE_URL nor SUPABASE_URL is set: SQLite (better-sqlite3) in WAL mode under
 * DATA_DIR. Nothing to install, and the separate gateway and recorder processes share the file safely: WAL lets
 * readers run during a write, and writers wait for each other (busy_timeout) instead of failing.
 */
export function openEmbeddedStore(options: EmbeddedStoreOptions): BarStore {
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
  options.log.debug({ file }, "embedded price_15s ready");
  return new EmbeddedBarStore(db);
}

class EmbeddedBarStore implements BarStore {
  readonly kind = "embedded" as const;
  private readonly pages = new Map<string, Statement<unknown[], BarRow>>();
  private readonly lastTs: Statement<[string], { ts: number }>;
  private readonly upsertMany: (bars: readonly ClosedBar[]) => void;

  constructor(private readonly db: SqliteDatabase) {
    this.lastTs = db.prepare("select ts from price_15s where symbol = ? order by ts desc limit 1");
    const upsert = db.prepare<ClosedBar>(UPSERT);
    const transaction = db.transaction((bars: readonly ClosedBar[]) => {
      for (const bar of bars) upsert.run(bar);
    });
    // BEGIN IMMEDIATE takes the write lock up front, so two writers queue instead of deadlocking on an upgrade.
    this.upsertMany = (bars) => transaction.immediate(bars);
  }

  async lastBarTs(symbol: string): Promise<number | null> {
    checkSymbol(symbol);
    return this.lastTs.get(symbol)?.ts ?? null;
  }

  async pageNewestFirst(symbol: string, query: BarPageQuery): Promise<ClosedBar[]> {
    checkSymbol(symbol);
    const { before, fromTs, toTs, limit } = checkPageQuery(query);
    const bounds: [string, number | undefined][] = [
      ["ts < ?", before],
      ["ts >= ?", fromTs],
      ["ts <= ?", toTs],
    ];
    const set = bounds.filter(([, value]) => value !== undefined);
    const shape = set.map(([condition]) => condition).join(" and ");
    let statement = this.pages.get(shape);
    if (!statement) {
      const where = ["symbol = ?", ...set.map(([condition]) => condition)].join(" and ");
      statement = this.db
        .prepare<unknown[], BarRow>(`select ts, ${PAGE_COLUMNS_AFTER_TS} from price_15s where ${where} order by ts desc limit ?`)
        .raw(true);
      this.pages.set(shape, statement);
    }
    return barsOfRows(symbol, statement.all(symbol, ...set.map(([, value]) => value), limit));
  }

  async upsertBars(bars: readonly ClosedBar[]): Promise<void> {
    const rows = latestBarPerKey(bars);
    if (rows.length > 0) this.upsertMany(rows);
  }

  async ping(): Promise<void> {
    this.db.prepare("select 1").get();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
