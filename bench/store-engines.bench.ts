/**
 * Picks the embedded engine by measurement (issue 5): SQLite through better-sqlite3 (WAL) against PGlite behind
 * its socket server (the only way separate processes could share it, through the Postgres adapter). For each: the
 * 5,000-bar newest-first page p50/p99 (warm) and the upsert rate in 1,000-bar batches, each as a ratio to the
 * same operation on the machine's PostgreSQL server through the Postgres adapter, measured in this run.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { createLogger, openEmbeddedStore, openPostgresStore, type BarStore } from "@gapfill/kit";
import { connectTestPostgres, dropTestSchema, TEST_DATABASE_URL, TEST_SERIES_START, testBars, timeRuns, uniqueNamespace } from "@gapfill/kit/testing";

const BARS = 50_000;
const BATCH = 1_000;
const PAGE = 5_000;
const log = createLogger({ service: "bench", level: "silent" });
const series = testBars("BTCUSDT", TEST_SERIES_START, BARS);

interface EngineFigures {
  upsertBarsPerSecond: number;
  pageP50: number;
  pageP99: number;
}

async function measure(store: BarStore): Promise<EngineFigures> {
  const batches = await timeRuns((i) => store.upsertBars(series.slice(i * BATCH, (i + 1) * BATCH)), { runs: BARS / BATCH });
  // Random keyset cursors over the whole series, the same sequence for every engine.
  let seed = 7;
  const cursor = () => {
    seed = (seed * 48271) % 2147483647;
    return series[PAGE + (seed % (BARS - PAGE))]!.ts;
  };
  const page = await timeRuns(
    async () => {
      const rows = await store.pageNewestFirst("BTCUSDT", { before: cursor(), limit: PAGE });
      if (rows.length !== PAGE) throw new Error(`short page: ${rows.length}`);
    },
    { runs: 200, warmup: 20 },
  );
  return { upsertBarsPerSecond: (BATCH / batches.p50) * 1000, pageP50: page.p50, pageP99: page.p99 };
}

const dir = await mkdtemp(join(tmpdir(), "gapfill-bench-engines-"));
const admin = connectTestPostgres();
const schema = uniqueNamespace("tbench");
const results: Record<string, EngineFigures> = {};
try {
  const server = await openPostgresStore({ url: TEST_DATABASE_URL, prepare: true, schema, log });
  results["postgres server (floor)"] = await measure(server);
  await server.close();

  const sqlite = openEmbeddedStore({ dataDir: join(dir, "sqlite"), log });
  results["sqlite (better-sqlite3, WAL)"] = await measure(sqlite);
  await sqlite.close();

  const pglite = await PGlite.create({ dataDir: join(dir, "pglite") });
  const socket = new PGLiteSocketServer({ db: pglite, port: 0, host: "127.0.0.1" });
  await socket.start();
  const port = Number(socket.getServerConn().split(":").at(-1));
  const viaSocket = await openPostgresStore({ url: `postgres://postgres@127.0.0.1:${port}/postgres`, prepare: true, log, maxConnections: 1 });
  results["pglite (socket server)"] = await measure(viaSocket);
  await viaSocket.close();
  await socket.stop();
  await pglite.close();
} finally {
  await dropTestSchema(admin, schema);
  await admin.end();
  await rm(dir, { recursive: true, force: true });
}

const floor = results["postgres server (floor)"]!;
console.log(`${BARS} bars, ${BATCH}-bar upserts, ${PAGE}-bar pages (200 warm runs)`);
console.log("engine                          upsert bars/s  (x floor)   page p50 ms  (x floor)   page p99 ms");
for (const [name, r] of Object.entries(results)) {
  console.log(
    `${name.padEnd(32)}${r.upsertBarsPerSecond.toFixed(0).padStart(13)}  ${(r.upsertBarsPerSecond / floor.upsertBarsPerSecond).toFixed(2).padStart(8)}` +
      `   ${r.pageP50.toFixed(2).padStart(11)}  ${(r.pageP50 / floor.pageP50).toFixed(2).padStart(8)}   ${r.pageP99.toFixed(2).padStart(11)}`,
  );
}
