import { afterEach, expect, it } from "vitest";
import { BAR_MS, barOpenTime } from "@gapfill/contracts";
import { createWorld, expectSeriesMatchesTruth, metricValue, waitForBarAt, type IngestWorld } from "./support/harness.ts";

let world: IngestWorld | undefined;
afterEach(async () => {
  await world?.cleanup();
  world = undefined;
});

it.each([
  ["ahead of", 30_000],
  ["behind", -30_000],
])("builds the exact series on a host whose clock is 30 s %s Binance's, measuring the offset", async (_how, skewMs) => {
  world = await createWorld({ historyHours: 1, speed: 10 });
  const sim = world.sim;
  const ingestor = await world.startIngestor({ INGEST_BACKFILL_HOURS: "0.1" }, {}, () => sim.clock() + skewMs);
  await ingestor.ready;
  // Binance's clock minus the host's, known to within a round trip (a few ms of wall time, ×10 here).
  expect(await metricValue(ingestor.registry, "ingestor_clock_offset_seconds")).toBeCloseTo(-skewMs / 1000, 0);
  const series = await waitForBarAt(world, barOpenTime(sim.clock()) + 8 * BAR_MS);
  expect(expectSeriesMatchesTruth(series, sim).withIds).toBeGreaterThan(6);
}, 60_000);
