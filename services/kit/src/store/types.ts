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

/** The one storage interface the gateway, the recorder and the ML jobs use (SPEC §8). */
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
