import { afterAll, expect, it } from "vitest";
import { BAR_MS, barOpenTime } from "@gapfill/contracts";
import { createWorld, expectSeriesMatchesTruth, SYMBOL, waitForBarAt, type IngestWorld } from "./support/harness.ts";

interface RestRow {
  a: number;
  p: string;
  q: string;
  f: number;
  l: number;
  T: number;
  m: boolean;
}

let world: IngestWorld;
afterAll(async () => world?.cleanup());

/** Every aggregate trade with id in [fromId, toId], read from the simulator's REST API. */
async function tradesBetween(restUrl: string, fromId: number, toId: number): Promise<RestRow[]> {
  const rows: RestRow[] = [];
  for (let next = fromId; next <= toId; ) {
    const response = await fetch(`${restUrl}/api/v3/aggTrades?symbol=${SYMBOL}&fromId=${next}&limit=1000`);
    const page = (await response.json()) as RestRow[];
    rows.push(...page.filter((row) => row.a <= toId));
    if (page.length < 1000) break;
    next = page.at(-1)!.a + 1;
  }
  return rows;
}

it("publishes bars equal to ground truth through boundary trades, quiet stretches, bursts, drift-prone sums and audit records", async () => {
  // A fixed tape (seed 7, this "now"): its first live half hour holds every case below, and the test checks so.
  world = await createWorld({ historyHours: 1, speed: 240, now: Date.UTC(2024, 0, 1) });
  const ingestor = await world.startIngestor({ INGEST_BACKFILL_HOURS: "0.1" });
  await ingestor.ready;
  // Half an hour of market time after the backfill, all of it through the live trade path.
  const series = await waitForBarAt(world, barOpenTime(world.sim.clock()) + 120 * BAR_MS, { timeoutMs: 90_000 });
  const { withIds } = expectSeriesMatchesTruth(series, world.sim);

  // The series starts with kline-built bars (no agg ids) and continues with trade-built ones (with ids).
  const firstWithIds = series.findIndex((record) => record.bar.first_agg_id !== null);
  expect(firstWithIds).toBeGreaterThanOrEqual(15);
  expect(withIds).toBeGreaterThan(100);
  expect(series.slice(firstWithIds).every((r) => r.bar.first_agg_id !== null || r.bar.trades === 0)).toBe(true);

  // The trade-built stretch contains every hard case it is meant to prove.
  const tradeBuilt = series.slice(firstWithIds).map((record) => record.bar);
  const lastId = tradeBuilt.findLast((bar) => bar.last_agg_id !== null)!.last_agg_id!;
  const rows = await tradesBetween(world.sim.restUrl, tradeBuilt[0]!.first_agg_id!, lastId);
  const valid = rows.filter((row) => row.f !== -1);
  expect(rows.some((row) => row.f === -1 && row.p === "0"), "an audit record").toBe(true);
  expect(valid.some((row) => row.T % BAR_MS === 0), "a trade at k·15000").toBe(true);
  expect(valid.some((row) => row.T % BAR_MS === BAR_MS - 1), "a trade at k·15000 − 1").toBe(true);
  expect(valid.some((row, i) => i > 0 && row.T - valid[i - 1]!.T > BAR_MS), "a quiet stretch over 15 s").toBe(true);
  expect(tradeBuilt.some((bar) => bar.trades === 0), "a flat bar").toBe(true);
  expect(valid.some((row, i) => i >= 200 && row.T - valid[i - 200]!.T < 1000), "a burst of 200 trades within a second").toBe(true);
  const floatVolume = new Map<number, number>();
  for (const row of valid) floatVolume.set(barOpenTime(row.T), (floatVolume.get(barOpenTime(row.T)) ?? 0) + Number(row.q));
  const drifting = tradeBuilt.filter((bar) => bar.trades > 0 && floatVolume.get(bar.ts) !== bar.volume);
  expect(drifting.length, "bars whose float-summed volume drifts from the exact one").toBeGreaterThan(0);
}, 120_000);
