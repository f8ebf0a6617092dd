import { afterEach, expect, it } from "vitest";
import { BAR_MS, barOpenTime } from "@gapfill/contracts";
import { waitFor } from "@gapfill/testkit";
import { createWorld, expectSeriesMatchesTruth, metricValue, SYMBOL, waitForBarAt, type IngestWorld } from "./support/harness.ts";
import type { RecordingProxy } from "./support/recording-proxy.ts";

interface RestRow {
  a: number;
  f: number;
  l: number;
  T: number;
}

const DAY_MS = 86_400_000;

let world: IngestWorld | undefined;
let proxy: RecordingProxy | undefined;
afterEach(async () => {
  await world?.cleanup();
  world = proxy = undefined;
});

/**
 * aggTrades answers with each row passed through `change`: null leaves it out, as if REST did not list that id
 * (yet, or at all).
 */
async function startWorld(change: (row: RestRow) => RestRow | null): Promise<{ world: IngestWorld; restUrl: string }> {
  world = await createWorld({ historyHours: 1, speed: 10 });
  proxy = await world.proxyRest({
    rewrite: (path, body) => {
      if (!path.startsWith("/api/v3/aggTrades")) return body;
      return JSON.stringify((JSON.parse(body) as RestRow[]).map(change).filter((row) => row !== null));
    },
  });
  return { world, restUrl: proxy.url };
}

/** An id the simulator has not reached yet: far enough ahead that a fault set now catches it. */
async function upcomingId(world: IngestWorld): Promise<number> {
  const [newest] = (await (await fetch(`${world.sim.restUrl}/api/v3/aggTrades?symbol=${SYMBOL}&limit=1`)).json()) as RestRow[];
  return newest!.a + 50;
}

/** REST requests by id from `id` whose answer was complete. */
const requestsFrom = (id: number) => proxy!.log.filter((e) => e.path.includes(`fromId=${id}&`) || e.path.endsWith(`fromId=${id}`)).length;

it("waits for REST to list a trade the WebSocket skipped, however long REST lags, instead of stepping over it", async () => {
  let lagFrom = Infinity;
  const { world, restUrl } = await startWorld((row) => (row.a >= lagFrom ? null : row));
  const ingestor = await world.startIngestor({ INGEST_BACKFILL_HOURS: "0.05", BINANCE_REST_URL: restUrl });
  await ingestor.ready;
  // Trade `missing` never comes on the WebSocket, and REST does not list it (nor anything after it) for a while.
  const missing = await upcomingId(world);
  world.sim.setFaults({ wsWithholdIds: [missing] });
  lagFrom = missing;
  // Well past the grace period (1 s market time, 0.1 s here) and past any fixed number of quick retries.
  await waitFor(() => requestsFrom(missing) >= 6, { timeoutMs: 30_000, intervalMs: 50, what: "six catch-ups from the missing id" });
  expect(world.sim.stats().ws.withheldIds).toContain(missing);
  lagFrom = Infinity;
  const series = await waitForBarAt(world, barOpenTime(world.sim.clock()) + 3 * BAR_MS);
  expectSeriesMatchesTruth(series, world.sim);
  const [withMissing] = series.filter(({ bar }) => bar.first_agg_id !== null && bar.first_agg_id <= missing && missing <= bar.last_agg_id!);
  expect(withMissing, "the bar holding the missing trade was built from trades").toBeDefined();
}, 60_000);

it("steps over ids Binance never assigned once REST lists an id past them", async () => {
  let gone = { from: Infinity, to: Infinity };
  const { world, restUrl } = await startWorld((row) => (row.a >= gone.from && row.a <= gone.to ? null : row));
  const ingestor = await world.startIngestor({ INGEST_BACKFILL_HOURS: "0.05", BINANCE_REST_URL: restUrl });
  await ingestor.ready;
  // Three ids exist nowhere the ingestor can see: not on the WebSocket, not on REST.
  const first = await upcomingId(world);
  gone = { from: first, to: first + 2 };
  world.sim.setFaults({ wsWithholdIds: [first, first + 1, first + 2] });
  const series = await waitForBarAt(world, barOpenTime(world.sim.clock()) + 6 * BAR_MS);

  // The simulator did trade them, so its ground truth has them: the bars they fall in differ by exactly them.
  const rows = (await (await fetch(`${world.sim.restUrl}/api/v3/aggTrades?symbol=${SYMBOL}&fromId=${first}&limit=3`)).json()) as RestRow[];
  const goneTrades = new Map<number, number>();
  for (const row of rows) goneTrades.set(barOpenTime(row.T), (goneTrades.get(barOpenTime(row.T)) ?? 0) + (row.f < 0 ? 0 : row.l - row.f + 1));
  expect(series.at(-1)!.bar.ts).toBeGreaterThan(Math.max(...goneTrades.keys()));
  let from = 0;
  series.forEach((record, i) => {
    const missingTrades = goneTrades.get(record.bar.ts);
    if (missingTrades === undefined) return;
    const truth = world.sim.groundTruth(SYMBOL, record.bar.ts, record.bar.ts + BAR_MS)[0]!;
    expect(record.bar.trades).toBe(truth.trades - missingTrades);
    // Every other bar equals the truth.
    if (i > from) expectSeriesMatchesTruth(series.slice(from, i), world.sim);
    from = i + 1;
  });
  expect(from).toBeGreaterThan(0);
  expectSeriesMatchesTruth(series.slice(from), world.sim);
}, 60_000);

it("drops and counts a trade dated far past market time instead of closing bars up to it", async () => {
  let dated = Infinity;
  const { world, restUrl } = await startWorld((row) => (row.a === dated ? { ...row, T: row.T + DAY_MS } : row));
  const ingestor = await world.startIngestor({ INGEST_BACKFILL_HOURS: "0.05", BINANCE_REST_URL: restUrl });
  await ingestor.ready;
  // The WebSocket never sends this trade; REST lists it a day late.
  dated = await upcomingId(world);
  world.sim.setFaults({ wsWithholdIds: [dated] });
  await waitFor(async () => (await metricValue(ingestor.registry, "ingestor_trades_future_total", { symbol: SYMBOL })) === 1, {
    timeoutMs: 30_000,
    what: "the trade dated a day ahead to be dropped",
  });
  const series = await waitForBarAt(world, barOpenTime(world.sim.clock()) + 3 * BAR_MS);
  expect(series.at(-1)!.bar.ts).toBeLessThanOrEqual(world.sim.clock());
  const [row] = (await (await fetch(`${world.sim.restUrl}/api/v3/aggTrades?symbol=${SYMBOL}&fromId=${dated}&limit=1`)).json()) as RestRow[];
  const at = series.findIndex(({ bar }) => bar.ts === barOpenTime(row!.T));
  const truth = world.sim.groundTruth(SYMBOL, barOpenTime(row!.T), barOpenTime(row!.T) + BAR_MS)[0]!;
  // Its bar lacks just that trade; every other bar equals the truth.
  expect(at).toBeGreaterThan(0);
  expect(series[at]!.bar.trades).toBe(truth.trades - (row!.f < 0 ? 0 : row!.l - row!.f + 1));
  expectSeriesMatchesTruth(series.slice(0, at), world.sim);
  expectSeriesMatchesTruth(series.slice(at + 1), world.sim);
}, 60_000);
