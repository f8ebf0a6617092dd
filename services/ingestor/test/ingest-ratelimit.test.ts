import { afterAll, expect, it } from "vitest";
import { BAR_MS, barOpenTime } from "@gapfill/contracts";
import { createWorld, expectSeriesMatchesTruth, waitForBarAt, type IngestWorld } from "./support/harness.ts";

let world: IngestWorld;
afterAll(async () => {
  await world?.cleanup();
});

it("under a lowered weight budget slows down, honours Retry-After, never gets a 418 and still equals ground truth", async () => {
  const WEIGHT_LIMIT = 30;
  const WINDOW_MS = 3000;
  world = await createWorld({
    historyHours: 3.5,
    speed: 1,
    weightLimit: WEIGHT_LIMIT,
    weightWindowMs: WINDOW_MS,
    // A client that sends a single request more after a 429 in the same window is banned.
    banAfterRejections: 1,
    faults: { restErrorBurst: { status: 429, count: 2, retryAfterSeconds: 2 } },
  });
  const proxy = await world.proxyRest();
  const ingestor = await world.startIngestor({ INGEST_BACKFILL_HOURS: "3", BINANCE_REST_URL: proxy.url });
  await ingestor.ready;
  const series = await waitForBarAt(world, barOpenTime(world.sim.clock()) - BAR_MS);
  expectSeriesMatchesTruth(series, world.sim);

  const log = proxy.log;
  const stats = world.sim.stats();
  expect(stats.served418).toBe(0);
  // The only 429s are the two injected ones: pacing kept every other request inside the budget.
  expect(stats.served429).toBe(2);
  expect(log.filter((e) => e.status === 429)).toHaveLength(2);
  expect(log.every((e) => e.status === 200 || e.status === 429)).toBe(true);
  expect(Math.max(...log.filter((e) => e.status === 200).map((e) => e.usedWeight!))).toBeLessThanOrEqual(WEIGHT_LIMIT);
  // Retry-After honoured: nothing sent until it had passed.
  log.forEach((exchange, i) => {
    if (exchange.status !== 429 || i + 1 >= log.length) return;
    expect(log[i + 1]!.requestAt - exchange.responseAt).toBeGreaterThanOrEqual(exchange.retryAfterSeconds! * 1000);
  });
  // It slowed down: the work took more weight than one window allows, so it waited for the next rather than
  // running into the limit.
  const answered = log.filter((e) => e.status === 200);
  const weightOf = (path: string) =>
    path.startsWith("/api/v3/exchangeInfo") ? 20 : path.startsWith("/api/v3/klines") ? 2 : path.startsWith("/api/v3/time") ? 1 : 4;
  expect(answered.reduce((sum, e) => sum + weightOf(e.path), 0)).toBeGreaterThan(WEIGHT_LIMIT);
  expect(new Set(answered.map((e) => Math.floor(e.requestAt / WINDOW_MS))).size).toBeGreaterThanOrEqual(2);
}, 90_000);
