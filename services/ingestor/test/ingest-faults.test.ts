import { createServer } from "node:net";
import { afterEach, expect, it } from "vitest";
import { BAR_MS, barOpenTime } from "@gapfill/contracts";
import { waitFor } from "@gapfill/testkit";
import { createWorld, expectSeriesMatchesTruth, metricValue, waitForBarAt, type IngestWorld } from "./support/harness.ts";

let world: IngestWorld | undefined;
afterEach(async () => {
  await world?.cleanup();
  world = undefined;
});

/** The open time of the bar `bars` bars after the one forming now on the simulator's clock. */
const barsAhead = (world: IngestWorld, bars: number) => barOpenTime(world.sim.clock()) + bars * BAR_MS;

it("loses and repeats nothing when the WebSocket drops every second, for several symbols on one connection", async () => {
  world = await createWorld({ historyHours: 1, speed: 60, symbols: ["BTCUSDT", "ETHUSDT"], faults: { wsDropEveryMs: 1000 } });
  const ingestor = await world.startIngestor({ INGEST_BACKFILL_HOURS: "0.05" });
  await ingestor.ready;
  const target = barsAhead(world, 20);
  for (const symbol of ["BTCUSDT", "ETHUSDT"]) {
    const series = await waitForBarAt(world, target, { symbol });
    expect(expectSeriesMatchesTruth(series, world.sim, symbol).withIds).toBeGreaterThan(15);
  }
  const stats = world.sim.stats();
  expect(stats.ws.cut.fault).toBeGreaterThanOrEqual(3);
  expect(await metricValue(ingestor.registry, "ingestor_ws_reconnects_total")).toBeGreaterThanOrEqual(3);
  expect(await metricValue(ingestor.registry, "ingestor_repairs_total", { reason: "reconnect" })).toBeGreaterThanOrEqual(3);
  // Every connection ever opened carried both symbols: there was never more than one at a time.
  expect(stats.ws.open).toBeLessThanOrEqual(1);
}, 90_000);

it("repairs withheld trades by id and drops duplicated, reordered and delayed frames", async () => {
  world = await createWorld({
    historyHours: 1,
    speed: 60,
    faults: { wsWithholdProbability: 0.01, wsDuplicateProbability: 0.05, wsReorderWindow: 8, wsDelayMs: 30 },
  });
  const ingestor = await world.startIngestor({ INGEST_BACKFILL_HOURS: "0.05" });
  await ingestor.ready;
  const series = await waitForBarAt(world, barsAhead(world, 20));
  expect(expectSeriesMatchesTruth(series, world.sim).withIds).toBeGreaterThan(15);
  const stats = world.sim.stats();
  expect(stats.ws.tradesWithheld).toBeGreaterThan(5);
  expect(stats.ws.framesDuplicated).toBeGreaterThan(5);
  expect(await metricValue(ingestor.registry, "ingestor_repairs_total", { reason: "gap" })).toBeGreaterThan(0);
  expect(await metricValue(ingestor.registry, "ingestor_trades_duplicate_total")).toBeGreaterThan(0);
}, 90_000);

it("rides out 429 and 500 bursts during the backfill and live, never provoking a ban", async () => {
  world = await createWorld({ historyHours: 2, speed: 40, faults: { restErrorBurst: { status: 429, count: 2, retryAfterSeconds: 1 } } });
  const ingestor = await world.startIngestor({ INGEST_BACKFILL_HOURS: "1" });
  await ingestor.ready;
  // Live: more bursts, while the WebSocket keeps dropping so catch-ups need REST.
  world.sim.setFaults({ restErrorBurst: { status: 429, count: 1, retryAfterSeconds: 1 }, wsDropEveryMs: 1000 });
  await waitFor(() => world!.sim.stats().restFaultsServed === 3, { timeoutMs: 20_000, what: "the live 429 burst to be served" });
  world.sim.setFaults({ restErrorBurst: { status: 500, count: 2 } });
  await waitFor(() => world!.sim.stats().restFaultsServed === 5, { timeoutMs: 20_000, what: "the 500 burst to be served" });
  const series = await waitForBarAt(world, barsAhead(world, 4));
  expectSeriesMatchesTruth(series, world.sim);
  const stats = world.sim.stats();
  expect(stats.restFaultsServed).toBe(5);
  expect(stats.served429).toBe(3);
  expect(stats.served418).toBe(0);
}, 90_000);

it("keeps closing bars from REST polling while the WebSocket is unreachable", async () => {
  const closedPort = await new Promise<number>((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
  world = await createWorld({ historyHours: 1, speed: 40 });
  const ingestor = await world.startIngestor({
    INGEST_BACKFILL_HOURS: "0.05",
    BINANCE_WS_URL: `ws://127.0.0.1:${closedPort}`,
    GAP_STREAM_SLEEP_SECONDS: "0.5",
  });
  await ingestor.ready;
  const series = await waitForBarAt(world, barsAhead(world, 12));
  expect(expectSeriesMatchesTruth(series, world.sim).withIds).toBeGreaterThan(8);
  // Polling goes on while the socket is unreachable: how many polls the 12 bars took depends on the machine's pace.
  await waitFor(async () => (await metricValue(ingestor.registry, "ingestor_repairs_total", { reason: "poll" })) >= 3, {
    what: "three REST polls that found trades",
    timeoutMs: 30_000,
  });
  expect(await metricValue(ingestor.registry, "ingestor_trades_in_total", { source: "ws" })).toBe(0);
}, 90_000);
