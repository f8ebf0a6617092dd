/**
 * A loopback stand-in for Supabase's Data API: the subset of PostgREST that @supabase/supabase-js sends for the
 * store's tables, built from PostgREST's documentation (pagination_count, preferences, errors, tables_views) and
 * backed by the real local PostgreSQL, one schema per run. PostgREST itself cannot be installed here.
 *
 * Served: `GET|HEAD /rest/v1/<table>` with `select` (columns, each optionally cast as `column::type`), filters
 * `eq/neq/lt/lte/gt/gte` (several on one column are and-ed), `order`, `limit`/`offset` and `Range`/`Range-Unit`
 * headers, answered with `Content-Range` and capped at `maxRows` (Supabase's default `max-rows` is 1,000,
 * applied silently like PostgREST); `Prefer: count=exact`; `POST /rest/v1/<table>` with a
 * JSON object or array, `columns`, `on_conflict`, `Prefer: resolution=merge-duplicates|ignore-duplicates` and
 * `return=minimal|representation`. Errors are PostgREST's `{code, details, hint, message}` with its status
 * mapping. Roles come from the API key: the anon key may read, the service key may also write. `answerWith` makes it
 * answer like something else in front of the Data API (a proxy's empty 404, a login page).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import postgres, { type Sql } from "postgres";
import { TEST_DATABASE_URL } from "./postgres.ts";

export const TEST_SUPABASE_ANON_KEY = "sb_publishable_gapfill_test_anon";
export const TEST_SUPABASE_SERVICE_KEY = "sb_secret_gapfill_test_service";

export interface PostgrestRequestRecord {
  method: string;
  /** Path and query string as sent. */
  url: string;
  prefer: string | undefined;
  range: string | undefined;
  status: number;
  /** Rows in the response body (reads) or in the request body (writes). */
  rows: number;
}

/** An answer that is not PostgREST's, as a misrouted proxy or a captive portal gives. */
export interface ForeignAnswer {
  status: number;
  /** Unset: no content-type header. */
  contentType?: string;
  body: string;
}

export interface PostgrestDouble {
  /** Base URL to use as SUPABASE_URL. */
  url: string;
  /** Every request served, in order. */
  requests: PostgrestRequestRecord[];
  /** From now on, answer every request with `answer` instead (null: serve PostgREST again). */
  answerWith(answer: ForeignAnswer | null): void;
  close(): Promise<void>;
}

export interface PostgrestDoubleOptions {
  /** Postgres schema that plays Supabase's exposed `public` schema. */
  schema: string;
  databaseUrl?: string;
  /** PostgREST `db-max-rows`. */
  maxRows?: number;
  /** API key → database role. */
  keys?: Record<string, "anon" | "service_role">;
}

class PostgrestError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: string | null;
  readonly hint: string | null;

  constructor(
    status: number,
    code: string,
    message: string,
    details: string | null = null,
    hint: string | null = null,
  ) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.hint = hint;
  }
}

const FILTER_OPERATORS: Record<string, string> = { eq: "=", neq: "<>", lt: "<", lte: "<=", gt: ">", gte: ">=" };
const RESERVED_PARAMS = new Set(["select", "order", "limit", "offset", "columns", "on_conflict"]);

/** HTTP status for a PostgreSQL error code, per PostgREST's errors reference. */
function statusForSqlState(code: string, role: string): number {
  if (code === "23505" || code === "23503") return 409;
  if (code === "42501") return role === "anon" ? 401 : 403;
  if (code === "42P01" || code === "42883") return 404;
  if (code.startsWith("08") || code.startsWith("53")) return 503;
  if (/^(09|25|2D|38|39|3B|40|54|55|57|58|F0|HV|XX)/.test(code)) return 500;
  return 400;
}

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

function parsePrefer(header: string | string[] | undefined): Map<string, string> {
  const prefs = new Map<string, string>();
  for (const part of [header ?? ""].flat().join(",").split(",")) {
    const [key, value = ""] = part.trim().split("=");
    if (key) prefs.set(key, value);
  }
  return prefs;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export async function startPostgrestDouble(options: PostgrestDoubleOptions): Promise<PostgrestDouble> {
  const maxRows = options.maxRows ?? 1000;
  const keys = options.keys ?? { [TEST_SUPABASE_ANON_KEY]: "anon", [TEST_SUPABASE_SERVICE_KEY]: "service_role" };
  const sql: Sql = postgres(options.databaseUrl ?? TEST_DATABASE_URL, { max: 4, onnotice: () => {} });
  const requests: PostgrestRequestRecord[] = [];
  let foreign: ForeignAnswer | null = null;

  async function columnsOf(table: string): Promise<Map<string, string>> {
    const rows = await sql<{ column_name: string; data_type: string }[]>`
      select column_name, data_type from information_schema.columns
      where table_schema = ${options.schema} and table_name = ${table} order by ordinal_position`;
    if (rows.length === 0) {
      throw new PostgrestError(404, "PGRST205", `Could not find the table 'public.${table}' in the schema cache`);
    }
    return new Map(rows.map((row) => [row.column_name, row.data_type]));
  }

  function checkColumn(columns: Map<string, string>, table: string, column: string): string {
    if (!columns.has(column)) throw new PostgrestError(400, "42703", `column ${table}.${column} does not exist`);
    return quoteIdent(column);
  }

  /** A column of `select`, optionally cast (`embedding::text`); the response keeps the column's name. */
  function selectItem(columns: Map<string, string>, table: string, item: string): string {
    const match = /^([^:]+)(?:::([A-Za-z][A-Za-z0-9_ ]*))?$/.exec(item);
    if (!match) throw new PostgrestError(400, "PGRST100", `"failed to parse select parameter (${item})" (line 1, column 1)`);
    const [, column = "", cast] = match;
    const quoted = checkColumn(columns, table, column);
    return cast ? `${quoted}::${cast} as ${quoted}` : quoted;
  }

  async function read(req: IncomingMessage, table: string, params: URLSearchParams, head: boolean) {
    const columns = await columnsOf(table);
    const selected = (params.get("select") ?? "*").split(",").map((c) => c.trim());
    const selectSql = selected.includes("*") ? "*" : selected.map((c) => selectItem(columns, table, c)).join(", ");
    const values: string[] = [];
    const where: string[] = [];
    for (const [column, filter] of params) {
      if (RESERVED_PARAMS.has(column)) continue;
      const dot = filter.indexOf(".");
      const operator = FILTER_OPERATORS[filter.slice(0, dot)];
      if (dot < 0 || !operator) {
        throw new PostgrestError(400, "PGRST100", `"failed to parse filter (${filter})" (line 1, column 1)`);
      }
      values.push(filter.slice(dot + 1));
      where.push(`${checkColumn(columns, table, column)} ${operator} $${values.length}`);
    }
    const order = (params.get("order") ?? "")
      .split(",")
      .filter(Boolean)
      .map((term) => {
        const [column = "", direction = "asc", nulls] = term.split(".");
        if (!["asc", "desc"].includes(direction) || (nulls && !["nullsfirst", "nullslast"].includes(nulls))) {
          throw new PostgrestError(400, "PGRST100", `"failed to parse order (${term})" (line 1, column 1)`);
        }
        return `${checkColumn(columns, table, column)} ${direction}${nulls ? ` nulls ${nulls.slice(5)}` : ""}`;
      });
    let offset = 0;
    let limit: number | undefined;
    const range = req.headers.range;
    if (range) {
      const match = /^(\d+)-(\d*)$/.exec(range);
      if (!match) throw new PostgrestError(416, "PGRST103", "Requested range not satisfiable");
      offset = Number(match[1]);
      if (match[2]) limit = Number(match[2]) - offset + 1;
    }
    for (const name of ["limit", "offset"] as const) {
      const raw = params.get(name);
      if (raw === null) continue;
      if (!/^\d+$/.test(raw)) throw new PostgrestError(400, "PGRST100", `"failed to parse ${name} (${raw})" (line 1, column 1)`);
      if (name === "limit") limit = Number(raw);
      else offset = Number(raw);
    }
    if (limit !== undefined && limit < 0) throw new PostgrestError(416, "PGRST103", "Requested range not satisfiable");
    // db-max-rows: silently caps whatever the client asked for.
    const effectiveLimit = Math.min(limit ?? maxRows, maxRows);
    const from = `from ${quoteIdent(options.schema)}.${quoteIdent(table)}${where.length ? ` where ${where.join(" and ")}` : ""}`;
    const query = `select ${selectSql} ${from}${order.length ? ` order by ${order.join(", ")}` : ""} limit ${effectiveLimit} offset ${offset}`;
    const [result] = await sql.unsafe<{ body: string; n: number }[]>(
      `select coalesce(json_agg(_t), '[]')::text as body, count(*)::int as n from (${query}) _t`,
      values,
    );
    const { body, n } = result!;
    let total = "*";
    if (parsePrefer(req.headers.prefer).get("count") === "exact") {
      const [counted] = await sql.unsafe<{ total: number }[]>(`select count(*)::int as total ${from}`, values);
      total = String(counted!.total);
    }
    const partial = total !== "*" && n < Number(total);
    return {
      status: partial ? 206 : 200,
      headers: { "content-range": n > 0 ? `${offset}-${offset + n - 1}/${total}` : `*/${total}` },
      body: head ? "" : body,
      rows: n,
    };
  }

  async function write(req: IncomingMessage, table: string, params: URLSearchParams, role: string) {
    if (!(req.headers["content-type"] ?? "").includes("application/json")) {
      throw new PostgrestError(415, "PGRST107", `Content-Type not acceptable: ${req.headers["content-type"] ?? ""}`);
    }
    const columns = await columnsOf(table);
    let payload: unknown;
    try {
      payload = JSON.parse(await readBody(req));
    } catch {
      throw new PostgrestError(400, "PGRST102", "Empty or invalid json");
    }
    const rows = Array.isArray(payload) ? payload : [payload];
    if (rows.some((row) => typeof row !== "object" || row === null || Array.isArray(row))) {
      throw new PostgrestError(400, "PGRST102", "All object keys must match");
    }
    if (role === "anon") throw new PostgrestError(401, "42501", `permission denied for table ${table}`);
    const listed = params.get("columns");
    const insertColumns = listed
      ? listed.split(",").map((c) => c.trim().replace(/^"|"$/g, ""))
      : Object.keys((rows[0] ?? {}) as object);
    const insertSql = insertColumns.map((c) => checkColumn(columns, table, c)).join(", ");
    const prefer = parsePrefer(req.headers.prefer);
    const resolution = prefer.get("resolution");
    const conflictColumns = (params.get("on_conflict") ?? "").split(",").filter(Boolean);
    let conflict = "";
    if (resolution === "merge-duplicates" || resolution === "ignore-duplicates") {
      if (conflictColumns.length === 0) {
        throw new PostgrestError(400, "PGRST100", "on_conflict is required here (the test double infers no primary key)");
      }
      const target = conflictColumns.map((c) => checkColumn(columns, table, c)).join(", ");
      const updates = insertColumns
        .filter((c) => !conflictColumns.includes(c))
        .map((c) => `${quoteIdent(c)} = excluded.${quoteIdent(c)}`);
      conflict =
        resolution === "ignore-duplicates" || updates.length === 0
          ? ` on conflict (${target}) do nothing`
          : ` on conflict (${target}) do update set ${updates.join(", ")}`;
    }
    const target = `${quoteIdent(options.schema)}.${quoteIdent(table)}`;
    const statement =
      `insert into ${target} (${insertSql}) select ${insertSql} from json_populate_recordset(null::${target}, $1::text::json)` +
      `${conflict} returning *`;
    const [returned] = await sql.unsafe<{ body: string }[]>(`with _t as (${statement}) select coalesce(json_agg(_t), '[]')::text as body from _t`, [
      JSON.stringify(rows),
    ]);
    const representation = prefer.get("return") === "representation";
    const headers: Record<string, string> = representation ? {} : { "content-range": "*/*" };
    return {
      status: 201,
      headers,
      body: representation ? returned!.body : "",
      rows: rows.length,
    };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const method = req.method ?? "GET";
    const prefer = req.headers.prefer === undefined ? undefined : [req.headers.prefer].flat().join(",");
    const record: PostgrestRequestRecord = { method, url: req.url ?? "", prefer, range: req.headers.range, status: 0, rows: 0 };
    requests.push(record);
    const send = (status: number, headers: Record<string, string>, body: string) => {
      record.status = status;
      res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers }).end(body);
    };
    if (foreign) {
      record.status = foreign.status;
      res.writeHead(foreign.status, foreign.contentType === undefined ? {} : { "content-type": foreign.contentType }).end(foreign.body);
      return;
    }
    let role = "anon";
    try {
      const key = req.headers.apikey;
      const keyRole = typeof key === "string" ? keys[key] : undefined;
      if (!keyRole) {
        send(401, {}, JSON.stringify({ message: "Invalid API key", hint: "Double check your Supabase `anon` or `service_role` API key." }));
        return;
      }
      role = keyRole;
      const profile = req.headers["accept-profile"] ?? req.headers["content-profile"];
      if (profile !== undefined && profile !== "public") {
        throw new PostgrestError(406, "PGRST106", "The schema must be one of the following: public");
      }
      const match = /^\/rest\/v1\/([A-Za-z_][A-Za-z0-9_]*)$/.exec(url.pathname);
      if (!match) throw new PostgrestError(404, "PGRST125", `Invalid path specified in request URL`);
      const table = match[1]!;
      let result;
      if (method === "GET" || method === "HEAD") result = await read(req, table, url.searchParams, method === "HEAD");
      else if (method === "POST") result = await write(req, table, url.searchParams, role);
      else throw new PostgrestError(405, "PGRST117", `Unsupported HTTP method: ${method}`);
      record.rows = result.rows;
      send(result.status, result.headers, result.body);
    } catch (error) {
      if (error instanceof PostgrestError) {
        send(error.status, {}, JSON.stringify({ code: error.code, details: error.details, hint: error.hint, message: error.message }));
        return;
      }
      const pg = error as { code?: string; message?: string; detail?: string; hint?: string };
      if (typeof pg.code === "string" && /^[0-9A-Z]{5}$/.test(pg.code)) {
        send(statusForSqlState(pg.code, role), {}, JSON.stringify({ code: pg.code, details: pg.detail ?? null, hint: pg.hint ?? null, message: pg.message }));
        return;
      }
      send(503, {}, JSON.stringify({ code: "PGRST000", details: String(pg.message), hint: null, message: "Could not connect with the database" }));
    }
  }

  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    answerWith: (answer) => void (foreign = answer),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await sql.end({ timeout: 1 });
    },
  };
}
