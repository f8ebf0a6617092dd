/**
 * A 5,000-bar newest-first page from each store adapter (issue 5): p50/p99 warm, and the ratio to the bare SQL
 * query measured in the same run, interleaved so load on the machine hits both alike. The bare query is the same
 * SELECT returning raw rows: postgres.js `.raw()` on the server, better-sqlite3 `.raw()` on the embedded file.
 * Supabase runs through the loopback PostgREST double (the real Data API cannot run here) over the same server, so
 * its ratio prices supabase-js, HTTP and the 1,000-row cap (five requests per page). Goal: p50 <= 10 ms on Postgres
 * and embedded.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { BAR_MS } from "@gapfill/contracts";
import { createLogger, EMBEDDED_DB_FILE, openEmbeddedStore, openPostgresStore, openSupabaseStore, type BarStore } from "@gapfill/kit";
import {
  connectTestPostgres,
  dropTestSchema,
  startPostgrestDouble,
  TEST_DATABASE_URL,
  TEST_SERIES_START,
  TEST_SUPABASE_SERVICE_KEY,
  testBars,
  timeInterleaved,
  uniqueNamespace,
} from "@gapfill/testkit";

const BARS = 50_000;
const PAGE = 5_000;
const RUNS = 150;
const log = createLogger({ service: "bench", level: "silent" });
const series = testBars("BTCUSDT", TEST_SERIES_START, BARS);

async function fill(store: BarStore): Promise<void> {
  for (let i = 0; i < BARS; i += 1000) await store.upsertBars(series.slice(i, i + 1000));
  await store.upsertBars(testBars("ETHUSDT", TEST_SERIES_START, 10_000, 2));
}

/** The same pseudo-random keyset cursors for every case, each leaving a full page below it. */
function cursors(): () => number {
  let seed = 7;
  return () => {
    seed = (seed * 48271) % 2147483647;
    return TEST_SERIES_START + (PAGE + (seed % (BARS - PAGE))) * BAR_MS;
  };
}

function page(store: BarStore): (run: number) => Promise<void> {
  const next = cursors();
  return async () => {
    const rows = await store.pageNewestFirst("BTCUSDT", { before: next(), limit: PAGE });
    if (rows.length !== PAGE) throw new Error(`short page from ${store.kind}: ${rows.length}`);
  };
}

const admin = connectTestPostgres();
const schema = uniqueNamespace("tbench");
const dir = await mkdtemp(join(tmpdir(), "gapfill-bench-page-"));
const report: string[] = [];
try {
  const postgres = await openPostgresStore({ url: TEST_DATABASE_URL, prepare: true, schema, log });
  await fill(postgres);
  await admin.unsafe(`vacuum analyze ${schema}.price_15s`);
  const bare = connectTestPostgres();
  const nextBare = cursors();
  const api = await startPostgrestDouble({ schema, maxRows: 1000 });
  const supabase = await openSupabaseStore({ url: api.url, key: TEST_SUPABASE_SERVICE_KEY, log });
  const server = await timeInterleaved(
    {
      "postgres: bare SQL": () =>
        bare.unsafe(`select * from ${schema}.price_15s where symbol = 'BTCUSDT' and ts < $1 order by ts desc limit ${PAGE}`, [new Date(nextBare())], { prepare: true }).raw(),
      "postgres: adapter": page(postgres),
      "supabase: adapter": page(supabase),
    },
    { runs: RUNS, warmup: 10 },
  );
  await Promise.all([postgres.close(), supabase.close(), api.close(), bare.end()]);

  const embedded = openEmbeddedStore({ dataDir: dir, log });
  await fill(embedded);
  const file = new Database(join(dir, EMBEDDED_DB_FILE), { readonly: true });
  const bareSqlite = file.prepare(`select * from price_15s where symbol = 'BTCUSDT' and ts < ? order by ts desc limit ${PAGE}`).raw();
  const nextSqlite = cursors();
  const local = await timeInterleaved(
    {
      "embedded: bare SQL": async () => bareSqlite.all(nextSqlite()),
      "embedded: adapter": page(embedded),
    },
    { runs: RUNS, warmup: 10 },
  );
  file.close();
  await embedded.close();

  const line = (name: string, t: { p50: number; p99: number }, floor: { p50: number }) =>
    `${name.padEnd(22)}${t.p50.toFixed(2).padStart(9)}${t.p99.toFixed(2).padStart(10)}${(t.p50 / floor.p50).toFixed(2).padStart(12)}`;
  report.push(`${PAGE}-bar newest-first pages from ${BARS.toLocaleString("en")} bars, ${RUNS} warm runs each, interleaved`);
  report.push(`${"case".padEnd(22)}${"p50 ms".padStart(9)}${"p99 ms".padStart(10)}${"x bare p50".padStart(12)}`);
  const pgFloor = server["postgres: bare SQL"];
  report.push(line("postgres: bare SQL", pgFloor, pgFloor));
  report.push(line("postgres: adapter", server["postgres: adapter"], pgFloor));
  report.push(line("supabase: adapter", server["supabase: adapter"], pgFloor));
  const sqliteFloor = local["embedded: bare SQL"];
  report.push(line("embedded: bare SQL", sqliteFloor, sqliteFloor));
  report.push(line("embedded: adapter", local["embedded: adapter"], sqliteFloor));
  for (const [name, t] of [["postgres", server["postgres: adapter"]], ["embedded", local["embedded: adapter"]]] as const) {
    report.push(`goal p50 <= 10 ms on ${name}: ${t.p50 <= 10 ? "met" : "NOT met"} (${t.p50.toFixed(2)} ms)`);
  }
} finally {
  await dropTestSchema(admin, schema);
  await admin.end();
  await rm(dir, { recursive: true, force: true });
}
console.log(report.join("\n"));
