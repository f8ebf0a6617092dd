import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, expect, it } from "vitest";
import { BAR_MS, barOpenTime } from "@gapfill/contracts";
import { createWorld, expectSeriesMatchesTruth, metricValue, waitForBarAt, type IngestWorld } from "./support/harness.ts";

let world: IngestWorld;
afterAll(async () => world?.cleanup());

it("two ingestors running at once write one series, and the survivor carries on alone", async () => {
  world = await createWorld({ historyHours: 1, speed: 60 });
  const env = { INGEST_BACKFILL_HOURS: "0.25" };
  const [first, second] = await Promise.all([world.startIngestor(env), world.startIngestor(env)]);
  await Promise.all([first.ready, second.ready]);
  await waitForBarAt(world, barOpenTime(world.sim.clock()) + 10 * BAR_MS);
  for (const ingestor of [first, second]) {
    expect(await metricValue(ingestor.registry, "ingestor_bars_published_total")).toBeGreaterThan(60);
  }

  await first.stop();
  const series = await waitForBarAt(world, barOpenTime(world.sim.clock()) + 10 * BAR_MS);
  const { bars } = expectSeriesMatchesTruth(series, world.sim);
  // Nothing stored twice: the stream holds exactly the bars of the series.
  const info = await (await jetstreamManager(world.nc)).streams.info(world.names.streams.bars);
  expect(info.state.messages).toBe(bars);
}, 90_000);
