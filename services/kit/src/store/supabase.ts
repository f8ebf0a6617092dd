import { createClient, type PostgrestError, type SupabaseClient } from "@supabase/supabase-js";
import WebSocket from "ws";
import { PRICE_COLUMNS, PRICE_TABLE, type ClosedBar } from "@gapfill/contracts";
import type { Logger } from "../log.ts";
import { checkPageQuery, checkSymbol, latestBarPerKey } from "./input.ts";
import type { BarPageQuery, BarStore } from "./types.ts";

export interface SupabaseStoreOptions {
  url: string;
  /** A key the Data API accepts; writes need one allowed to write (see supabaseKeyRole). */
  key: string;
  log: Logger;
}

/** A row of price_15s as the Data API returns it: numbers as JSON numbers, `ts` as an ISO timestamp. */
type PriceRow = Omit<ClosedBar, "ts"> & { ts: string };

const SELECT = PRICE_COLUMNS.join(",");
/**
 * Rows per upsert request: postgrest-js builds its `columns` list in time quadratic in the rows (4,000 rows cost
 * 3 s of CPU, measured), and the recorder's default batch is 1,000 bars.
 */
const UPSERT_CHUNK = 1000;

export class SupabaseRequestError extends Error {
  override name = "SupabaseRequestError";
  constructor(operation: string, error: Pick<PostgrestError, "message" | "code" | "hint">) {
    super(`Supabase Data API ${operation}: ${error.message}${error.code ? ` (${error.code})` : ""}${error.hint ? ` — ${error.hint}` : ""}`);
  }
}

/** Longest a single Data API request may take. */
const REQUEST_TIMEOUT_MS = 30_000;

const toRow = (bar: ClosedBar): PriceRow => ({ ...bar, ts: new Date(bar.ts).toISOString() });
const fromRow = (row: PriceRow): ClosedBar => ({ ...row, ts: Date.parse(row.ts) });

/**
 * Supabase through its Data API (PostgREST) with @supabase/supabase-js. Checks at open that the table answers, so
 * a wrong URL, key or a missing table is a clear error at start rather than at the first request.
 */
export async function openSupabaseStore(options: SupabaseStoreOptions): Promise<BarStore> {
  const client = createClient(options.url, options.key, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    // A black-holed Data API must fail a request, not hold it (and the recorder's batch) forever.
    global: { fetch: (input, init) => fetch(input, { ...init, signal: init?.signal ?? AbortSignal.timeout(REQUEST_TIMEOUT_MS) }) },
    // Never used (no realtime subscriptions), but Node 20 has no WebSocket global for the client to find.
    realtime: { transport: WebSocket as never },
  });
  const store = new SupabaseBarStore(client, options.log);
  const { error } = await client.from(PRICE_TABLE).select("ts").limit(1);
  if (error) {
    const missing = error.code === "42P01" || error.code === "PGRST205";
    throw new SupabaseRequestError(
      "check of price_15s",
      missing ? { ...error, hint: "create it with contracts/sql/001_price_15s.sql in the Supabase SQL editor" } : error,
    );
  }
  return store;
}

class SupabaseBarStore implements BarStore {
  readonly kind = "supabase" as const;
  /**
   * The largest response seen that was shorter than asked for: the server's row cap (`max-rows`, 1,000 by default)
   * or at most that. A response shorter than this is the end of the data; one as long may have been cut.
   */
  private responseCap: number | undefined;

  constructor(
    private readonly client: SupabaseClient,
    private readonly log: Logger,
  ) {}

  async lastBarTs(symbol: string): Promise<number | null> {
    checkSymbol(symbol);
    const { data, error } = await this.client
      .from(PRICE_TABLE)
      .select("ts")
      .eq("symbol", symbol)
      .order("ts", { ascending: false })
      .limit(1);
    if (error) throw new SupabaseRequestError("last bar", error);
    const [row] = data as { ts: string }[];
    return row ? Date.parse(row.ts) : null;
  }

  /** Follows the keyset cursor across as many requests as the server's row cap needs: never silently short. */
  async pageNewestFirst(symbol: string, query: BarPageQuery): Promise<ClosedBar[]> {
    checkSymbol(symbol);
    const { fromTs, toTs, limit } = checkPageQuery(query);
    const bars: ClosedBar[] = [];
    let before = query.before;
    while (bars.length < limit) {
      const wanted = limit - bars.length;
      let request = this.client.from(PRICE_TABLE).select(SELECT).eq("symbol", symbol);
      if (before !== undefined) request = request.lt("ts", new Date(before).toISOString());
      if (fromTs !== undefined) request = request.gte("ts", new Date(fromTs).toISOString());
      if (toTs !== undefined) request = request.lte("ts", new Date(toTs).toISOString());
      const { data, error } = await request.order("ts", { ascending: false }).limit(wanted);
      if (error) throw new SupabaseRequestError("page", error);
      const rows = data as unknown as PriceRow[];
      for (const row of rows) bars.push(fromRow(row));
      if (rows.length === 0 || rows.length >= wanted) break;
      if (this.responseCap !== undefined && rows.length < this.responseCap) break;
      if (this.responseCap === undefined) this.log.debug({ rows: rows.length, wanted }, "Supabase response shorter than asked: paging on");
      this.responseCap = Math.max(this.responseCap ?? 0, rows.length);
      before = bars[bars.length - 1]!.ts;
    }
    return bars;
  }

  /**
   * One request per UPSERT_CHUNK rows, each of which PostgREST runs as one INSERT … ON CONFLICT DO UPDATE
   * statement. A batch larger than a chunk is not atomic as a whole, but every row is idempotent, so a retry after
   * a failure part-way ends with the same table.
   */
  async upsertBars(bars: readonly ClosedBar[]): Promise<void> {
    const rows = latestBarPerKey(bars).map(toRow);
    for (let start = 0; start < rows.length; start += UPSERT_CHUNK) {
      const chunk = rows.slice(start, start + UPSERT_CHUNK);
      const { error } = await this.client.from(PRICE_TABLE).upsert(chunk, { onConflict: "symbol,ts" });
      if (error) throw new SupabaseRequestError("upsert", error);
    }
  }

  async ping(): Promise<void> {
    const { error } = await this.client.from(PRICE_TABLE).select("ts").limit(1);
    if (error) throw new SupabaseRequestError("ping", error);
  }

  async close(): Promise<void> {
    await this.client.removeAllChannels();
  }
}
