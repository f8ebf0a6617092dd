import { createClient, type PostgrestError, type SupabaseClient } from "@supabase/supabase-js";
import WebSocket from "ws";
import { AI_OUTPUTS_TABLE, ML_PREDICTIONS_TABLE, PRICE_COLUMNS, PRICE_TABLE, SQL_MIGRATIONS, type ClosedBar } from "@gapfill/contracts";
import { describeFailure } from "../failure.ts";
import type { Logger } from "../log.ts";
import { describeValue } from "./answers.ts";
import { checkedStore } from "./checked.ts";
import { StoreUnavailableError } from "./errors.ts";
import { float32sOfPgArray } from "./float32.ts";
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

export interface SupabaseStoreOptions {
  url: string;
  /** A key the Data API accepts; writes need one allowed to write (see supabaseKeyRole). */
  key: string;
  log: Logger;
}

/** A row of price_15s as the Data API returns it: numbers as JSON numbers, `ts` as an ISO timestamp. */
type PriceRow = Omit<ClosedBar, "ts"> & { ts: string };

const SELECT = PRICE_COLUMNS.join(",");

/** A row of the answer as an object: anything else arrives as an empty object, which the row checks then refuse. */
const fieldsOf = (row: unknown): Record<string, unknown> => (typeof row === "object" && row !== null ? (row as Record<string, unknown>) : {});

/** epoch ms of a timestamp the Data API sent; anything else is an unexpected answer. */
function epochMsOf(operation: string, value: unknown): number {
  const ms = typeof value === "string" ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms)) throw new StoreUnavailableError("supabase", operation, `unexpected answer: ts is ${describeValue(value)}, expected a timestamp`);
  return ms;
}

/**
 * An ai_outputs row as the Data API returns it. The embedding is asked for as text (`embedding::text`): as JSON a
 * real arrives as a double, and rounding that to float32 again can miss by one step (see parseFloat32).
 */
const EMBEDDING_SELECT = "symbol,ts,embedding::text,feature_version,producer";
function embeddingOfRow(operation: string, row: unknown): EmbeddingRow {
  const fields = fieldsOf(row);
  const { embedding } = fields;
  if (typeof embedding !== "string") {
    throw new StoreUnavailableError("supabase", operation, `unexpected answer: embedding is ${describeValue(embedding)}, expected a real[] as text`);
  }
  return { ...(fields as Omit<EmbeddingRow, "ts" | "embedding">), ts: epochMsOf(operation, fields.ts), embedding: float32sOfPgArray(embedding) };
}

const PREDICTION_SELECT = "symbol,ts,model_version,prob_up";
const predictionOfRow = (operation: string, row: unknown): PredictionRow => {
  const fields = fieldsOf(row);
  return { ...(fields as Omit<PredictionRow, "ts">), ts: epochMsOf(operation, fields.ts) };
};

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Rows per upsert request: postgrest-js builds its `columns` list in time quadratic in the rows (4,000 rows cost
 * 3 s of CPU, measured), and the recorder's default batch is 1,000 bars.
 */
const UPSERT_CHUNK = 1000;

/** Most rows an export asks for in one request: Supabase's default response cap. */
const EXPORT_REQUEST_ROWS = 1000;

/** The PostgREST-shaped error of an answer that was not PostgREST's, or of no answer (see answerOf). */
const UNEXPECTED_ANSWER = "gapfill_unexpected_answer";

/** A failed request as a StoreUnavailableError; a missing table is named with the SQL file that creates it. */
function requestError(operation: string, table: string, error: Pick<PostgrestError, "message" | "code" | "hint">): StoreUnavailableError {
  const missing = error.code === "42P01" || error.code === "PGRST205";
  const migration = SQL_MIGRATIONS.find((m) => m.name.endsWith(`_${table}`));
  const hint = missing && migration ? `create it with contracts/sql/${migration.name}.sql in the Supabase SQL editor` : error.hint;
  const code = error.code && error.code !== UNEXPECTED_ANSWER ? ` (${error.code})` : "";
  // postgrest-js puts a whole unparsable body into the message: keep the line short.
  const message = error.message.length > 300 ? `${error.message.slice(0, 300)}…` : error.message;
  return new StoreUnavailableError("supabase", operation, `${message}${code}${hint ? ` — ${hint}` : ""}`);
}

/** The rows of a read's answer: an error or anything but a list is a StoreUnavailableError. */
function rowsOf(operation: string, table: string, result: { data: unknown; error: PostgrestError | null }): unknown[] {
  if (result.error) throw requestError(operation, table, result.error);
  if (!Array.isArray(result.data)) {
    throw new StoreUnavailableError("supabase", operation, `unexpected answer: ${describeValue(result.data)} where a list of rows was expected`);
  }
  return result.data;
}

/** An answer body as a short phrase: `with an empty body`, `(text/html): "<!doctype html>…"`. */
function describeBody(body: string, contentType: string | null): string {
  if (body.trim() === "") return "with an empty body";
  const head = body.trim().slice(0, 60).replace(/\s+/g, " ");
  return `(${contentType?.split(";")[0] ?? "no content type"}): ${JSON.stringify(head)}${body.trim().length > 60 ? "…" : ""}`;
}

function isPostgrestError(body: string): boolean {
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) && typeof (parsed as { message?: unknown }).message === "string";
  } catch {
    return false;
  }
}

/** What the request met, as the PostgREST error postgrest-js hands on to the store (see answerOf). */
function unexpectedAnswer(message: string): Response {
  const body = JSON.stringify({ code: UNEXPECTED_ANSWER, message, details: null, hint: null });
  return new Response(body, { status: 502, statusText: "Bad Gateway", headers: { "content-type": "application/json" } });
}

/**
 * The Data API's answer as postgrest-js should see it. postgrest-js keeps only the name and message of a failed
 * fetch (Node's says "fetch failed"; the reason is in its cause), and takes some answers that are not PostgREST's
 * for success: a 404 with an empty body, as a wrong SUPABASE_URL behind a proxy gives, becomes "204 No Content"
 * with no rows. Here, where the status, content type and cause are still known, no answer, an error that is not
 * PostgREST's `{message, code}` and a success that is not JSON become a PostgREST error saying what arrived.
 */
async function answerOf(request: () => Promise<Response>, host: string): Promise<Response> {
  let response: Response;
  try {
    response = await request();
  } catch (error) {
    return unexpectedAnswer(`no answer from ${host}: ${describeFailure(error)}`);
  }
  const contentType = response.headers.get("content-type");
  if (response.ok && contentType?.includes("json")) return response;
  const body = await response.text().catch((error: unknown) => `(the body could not be read: ${describeFailure(error)})`);
  if (response.ok ? body === "" : isPostgrestError(body)) {
    return new Response(body === "" ? null : body, { status: response.status, statusText: response.statusText, headers: response.headers });
  }
  const status = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`;
  const hint = response.status === 404 ? " (is SUPABASE_URL the project's URL, https://<ref>.supabase.co?)" : "";
  return unexpectedAnswer(`${host} answered ${status} ${describeBody(body, contentType)}${hint}`);
}

/** Longest a single Data API request may take. */
const REQUEST_TIMEOUT_MS = 30_000;

const toRow = (bar: ClosedBar): PriceRow => ({ ...bar, ts: iso(bar.ts) });
const barOfRow = (row: unknown): ClosedBar => {
  const fields = fieldsOf(row);
  return { ...(fields as Omit<ClosedBar, "ts">), ts: epochMsOf("page", fields.ts) };
};

/**
 * Supabase through its Data API (PostgREST) with @supabase/supabase-js. Checks at open that the table answers, so
 * a wrong URL, key or a missing table is a clear error at start rather than at the first request.
 */
export async function openSupabaseStore(options: SupabaseStoreOptions): Promise<Store> {
  const host = new URL(options.url).host;
  const client = createClient(options.url, options.key, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    global: {
      // A black-holed Data API must fail a request, not hold it (and the recorder's batch) forever.
      fetch: (input, init) => answerOf(() => fetch(input, { ...init, signal: init?.signal ?? AbortSignal.timeout(REQUEST_TIMEOUT_MS) }), host),
    },
    // Never used (no realtime subscriptions), but Node 20 has no WebSocket global for the client to find.
    realtime: { transport: WebSocket as never },
  });
  const store = new SupabaseStore(client, options.log);
  rowsOf("check of price_15s", PRICE_TABLE, await client.from(PRICE_TABLE).select("ts").limit(1));
  return checkedStore(store, { log: options.log, target: host });
}

class SupabaseStore implements Store {
  readonly kind = "supabase" as const;
  /**
   * The most rows any response has carried. The server's row cap (`max-rows`, 1,000 by default) is at least this,
   * so a response shorter than both this and what was asked for is the end of the data; one as long may be cut.
   */
  private largestResponse = 0;

  private readonly client: SupabaseClient;
  private readonly log: Logger;

  constructor(
    client: SupabaseClient,
    log: Logger,
  ) {
    this.client = client;
    this.log = log;
  }

  async lastBarTs(symbol: string): Promise<number | null> {
    checkSymbol(symbol);
    const answer = await this.client.from(PRICE_TABLE).select("ts").eq("symbol", symbol).order("ts", { ascending: false }).limit(1);
    const [row] = rowsOf("last bar", PRICE_TABLE, answer);
    return row === undefined ? null : epochMsOf("last bar", fieldsOf(row).ts);
  }

  /**
   * Whether a response ends the data: an empty one does, a full one does not, and a shorter one does when an
   * earlier response was longer (so the server did not cut this one). Otherwise it may be the server's cap: ask on.
   */
  private endOfData(received: number, wanted: number): boolean {
    const largest = this.largestResponse;
    this.largestResponse = Math.max(largest, received);
    if (received === 0) return true;
    if (received >= wanted) return false;
    if (received < largest) return true;
    this.log.debug({ rows: received, wanted }, "Supabase response shorter than asked but as long as any before: paging on");
    return false;
  }

  /**
   * Up to `limit` rows across as many requests as the server's row cap needs, never silently short: `read` asks
   * for `wanted` more rows after the last one received (undefined at first).
   */
  private async collect<R>(limit: number, read: (wanted: number, last: R | undefined) => Promise<R[]>): Promise<R[]> {
    const rows: R[] = [];
    while (rows.length < limit) {
      const wanted = limit - rows.length;
      const page = await read(wanted, rows[rows.length - 1]);
      for (const row of page) rows.push(row);
      if (this.endOfData(page.length, wanted)) break;
    }
    return rows;
  }

  /** Follows the keyset cursor across as many requests as the server's row cap needs: never silently short. */
  async pageNewestFirst(symbol: string, query: BarPageQuery): Promise<ClosedBar[]> {
    checkSymbol(symbol);
    const { fromTs, toTs, limit } = checkPageQuery(query);
    return this.collect(limit, async (wanted, last: ClosedBar | undefined) => {
      const before = last?.ts ?? query.before;
      let request = this.client.from(PRICE_TABLE).select(SELECT).eq("symbol", symbol);
      if (before !== undefined) request = request.lt("ts", iso(before));
      if (fromTs !== undefined) request = request.gte("ts", iso(fromTs));
      if (toTs !== undefined) request = request.lte("ts", iso(toTs));
      return rowsOf("page", PRICE_TABLE, await request.order("ts", { ascending: false }).limit(wanted)).map(barOfRow);
    });
  }

  /**
   * One request per UPSERT_CHUNK rows, each of which PostgREST runs as one INSERT … ON CONFLICT DO UPDATE
   * statement. A batch larger than a chunk is not atomic as a whole, but every row is idempotent, so a retry after
   * a failure part-way ends with the same table.
   */
  async upsertBars(bars: readonly ClosedBar[]): Promise<void> {
    await this.upsertInChunks("upsert", PRICE_TABLE, "symbol,ts", latestBarPerKey(bars).map(toRow));
  }

  private async upsertInChunks(operation: string, table: string, onConflict: string, rows: readonly object[]): Promise<void> {
    for (let start = 0; start < rows.length; start += UPSERT_CHUNK) {
      const { error } = await this.client.from(table).upsert(rows.slice(start, start + UPSERT_CHUNK), { onConflict });
      if (error) throw requestError(operation, table, error);
    }
  }

  /** Chunked like upsertBars. Values go as JSON numbers: each is the double equal to the float32, read back exactly. */
  async upsertEmbeddings(input: readonly EmbeddingInput[]): Promise<void> {
    const rows = checkEmbeddings(input).map((row) => ({ ...row, ts: iso(row.ts), embedding: Array.from(row.embedding) }));
    await this.upsertInChunks("embedding upsert", AI_OUTPUTS_TABLE, "symbol,ts", rows);
  }

  async lastEmbeddingTs(symbol: string): Promise<number | null> {
    checkSymbol(symbol);
    const answer = await this.client.from(AI_OUTPUTS_TABLE).select("ts").eq("symbol", symbol).order("ts", { ascending: false }).limit(1);
    const [row] = rowsOf("last embedding", AI_OUTPUTS_TABLE, answer);
    return row === undefined ? null : epochMsOf("last embedding", fieldsOf(row).ts);
  }

  async newestEmbeddings(symbol: string, query: NewestEmbeddingsQuery): Promise<EmbeddingRow[]> {
    checkSymbol(symbol);
    const { after, featureVersion, limit } = checkNewestEmbeddingsQuery(query);
    return this.collect(limit, async (wanted, last: EmbeddingRow | undefined) => {
      let request = this.client.from(AI_OUTPUTS_TABLE).select(EMBEDDING_SELECT).eq("symbol", symbol);
      if (last !== undefined) request = request.lt("ts", iso(last.ts));
      if (after !== undefined) request = request.gt("ts", iso(after));
      if (featureVersion !== undefined) request = request.eq("feature_version", featureVersion);
      const rows = rowsOf("newest embeddings", AI_OUTPUTS_TABLE, await request.order("ts", { ascending: false }).limit(wanted));
      return rows.map((row) => embeddingOfRow("newest embeddings", row));
    });
  }

  exportEmbeddings(query: EmbeddingExportQuery): AsyncIterable<EmbeddingRow> {
    const checked = checkExportQuery(query);
    return this.exportPages({ ...checked, pageSize: Math.min(checked.pageSize, EXPORT_REQUEST_ROWS) });
  }

  /**
   * Pages of (ts, symbol) order with only and-ed filters: rows after a ts, then, when a full page ended inside a
   * ts (several symbols share it), the rest of that ts by symbol before moving past it.
   */
  private async *exportPages(query: ReturnType<typeof checkExportQuery>): AsyncGenerator<EmbeddingRow> {
    const { toTs, symbol, featureVersion, pageSize } = query;
    // After a ts, up to toTs; or, with a symbol, the rest of that ts after the symbol.
    const read = async (cursor: { ts: number; symbol?: string }) => {
      let request = this.client.from(AI_OUTPUTS_TABLE).select(EMBEDDING_SELECT);
      if (cursor.symbol === undefined) request = request.gt("ts", iso(cursor.ts)).lte("ts", iso(toTs));
      else request = request.eq("ts", iso(cursor.ts)).gt("symbol", cursor.symbol);
      if (symbol !== undefined) request = request.eq("symbol", symbol);
      if (featureVersion !== undefined) request = request.eq("feature_version", featureVersion);
      const rows = rowsOf("embedding export", AI_OUTPUTS_TABLE, await request.order("ts").order("symbol").limit(pageSize));
      return rows.map((row) => embeddingOfRow("embedding export", row));
    };
    let afterTs = query.fromTs;
    for (;;) {
      const page = await read({ ts: afterTs });
      yield* page;
      if (this.endOfData(page.length, pageSize)) return;
      const last = page[page.length - 1]!;
      if (symbol === undefined) {
        for (let afterSymbol = last.symbol; ; ) {
          const rest = await read({ ts: last.ts, symbol: afterSymbol });
          yield* rest;
          if (this.endOfData(rest.length, pageSize)) break;
          afterSymbol = rest[rest.length - 1]!.symbol;
        }
      }
      afterTs = last.ts;
    }
  }

  /** Chunked like upsertBars. */
  async upsertPredictions(input: readonly PredictionRow[]): Promise<void> {
    const rows = checkPredictions(input).map((row) => ({ ...row, ts: iso(row.ts) }));
    await this.upsertInChunks("prediction upsert", ML_PREDICTIONS_TABLE, "symbol,ts,model_version", rows);
  }

  async newestPrediction(symbol: string, modelVersion?: string): Promise<PredictionRow | null> {
    checkSymbol(symbol);
    checkOptionalModelVersion(modelVersion);
    let request = this.client.from(ML_PREDICTIONS_TABLE).select(PREDICTION_SELECT).eq("symbol", symbol);
    if (modelVersion !== undefined) request = request.eq("model_version", modelVersion);
    const answer = await request.order("ts", { ascending: false }).order("model_version", { ascending: false }).limit(1);
    const [row] = rowsOf("newest prediction", ML_PREDICTIONS_TABLE, answer);
    return row === undefined ? null : predictionOfRow("newest prediction", row);
  }

  async predictionsSince(symbol: string, query: PredictionsSinceQuery): Promise<PredictionRow[]> {
    checkSymbol(symbol);
    const { modelVersion, after, limit } = checkPredictionsSinceQuery(query);
    return this.collect(limit, async (wanted, last: PredictionRow | undefined) => {
      const answer = await this.client
        .from(ML_PREDICTIONS_TABLE)
        .select(PREDICTION_SELECT)
        .eq("symbol", symbol)
        .eq("model_version", modelVersion)
        .gt("ts", iso(last?.ts ?? after))
        .order("ts")
        .limit(wanted);
      return rowsOf("predictions since", ML_PREDICTIONS_TABLE, answer).map((row) => predictionOfRow("predictions since", row));
    });
  }

  async ping(): Promise<void> {
    rowsOf("ping", PRICE_TABLE, await this.client.from(PRICE_TABLE).select("ts").limit(1));
  }

  async close(): Promise<void> {
    await this.client.removeAllChannels();
  }
}
