import { afterEach, expect, it } from "vitest";
import { BAR_MS, barOpenTime } from "@gapfill/contracts";
import { createWorld, expectSeriesMatchesTruth, SYMBOL, waitForBarAt, type IngestWorld } from "./support/harness.ts";

let world: IngestWorld | undefined;
afterEach(async () => {
  await world?.cleanup();
  world = undefined;
});

it("backfills a fresh 24 h in at most 100 REST requests without a single 429", async () => {
  world = await createWorld({ historyHours: 25, speed: 1 });
  world.sim.resetStats();
  const started = performance.now();
  const dayBefore = () => barOpenTime(world!.sim.clock() - 24 * 3_600_000);
  const earliestStart = dayBefore();
  const ingestor = await world.startIngestor({ INGEST_BACKFILL_HOURS: "24" });
  const latestStart = dayBefore();
  await ingestor.ready;
  const series = await waitForBarAt(world, barOpenTime(world.sim.clock()) - BAR_MS);
  const seconds = (performance.now() - started) / 1000;
  const { bars } = expectSeriesMatchesTruth(series, world.sim);
  const stats = world.sim.stats();
  console.log(`24 h backfill: ${bars} bars, ${stats.requestsTotal} REST requests, ${seconds.toFixed(1)} s`);
  // The series starts 24 h back, at the first bar with a trade (a quiet interval there has no previous close).
  const firstTraded = (from: number) => world!.sim.groundTruth(SYMBOL, from, from + 10 * BAR_MS).find((bar) => bar.trades > 0)!.ts;
  expect([firstTraded(earliestStart), firstTraded(latestStart)]).toContain(series[0]!.bar.ts);
  expect(bars).toBeGreaterThanOrEqual(24 * 240 - 3);
  expect(stats.requestsTotal).toBeLessThanOrEqual(100);
  expect(stats.served429).toBe(0);
  expect(stats.served418).toBe(0);
}, 120_000);

it("builds the same bars whether seconds without trades come back as empty klines or not at all", async () => {
  world = await createWorld({ historyHours: 3, speed: 1, emptyKlines: "omit" });
  const ingestor = await world.startIngestor({ INGEST_BACKFILL_HOURS: "2.5" });
  await ingestor.ready;
  const series = await waitForBarAt(world, barOpenTime(world.sim.clock()) - BAR_MS);
  expect(expectSeriesMatchesTruth(series, world.sim).bars).toBeGreaterThanOrEqual(2.5 * 240 - 3);
  expect(series.some((record) => record.bar.trades === 0)).toBe(true);
}, 60_000);
