import { afterAll, describe, expect, it } from "vitest";
import { waitFor } from "@gapfill/testkit";
import { startSim, type RunningSim } from "../src/index.ts";
import { FIXED_NOW, getJson, pageByFromId, sha256, type AggTrade } from "./support.ts";

const started: RunningSim[] = [];
afterAll(() => Promise.all(started.map((sim) => sim.stop())));

async function tapeOver(sim: RunningSim, untilMs: number): Promise<{ trades: AggTrade[]; bytes: string }> {
  const first = await getJson<AggTrade[]>(`${sim.restUrl}/api/v3/aggTrades?symbol=BTCUSDT&startTime=0&limit=1`);
  const trades = (await pageByFromId(sim.restUrl, "BTCUSDT", first.body[0]!.a)).filter((trade) => trade.T <= untilMs);
  return { trades, bytes: sha256(JSON.stringify(trades)) };
}

describe("a fixed seed and a fixed now", () => {
  it("serve a byte-identical tape from two simulators started at different wall times", async () => {
    const options = { now: FIXED_NOW, seed: 42, historyHours: 0.25, speed: 2 };
    const first = await startSim(options);
    started.push(first);
    // The second starts once the first's market has moved on (its clock is the simulated one, speed 2).
    await waitFor(() => first.clock() - FIXED_NOW >= 600, { what: "the first simulator's clock to advance" });
    const second = await startSim(options);
    started.push(second);
    expect(first.clock() - second.clock()).toBeGreaterThanOrEqual(500);

    const until = second.clock();
    const a = await tapeOver(first, until);
    const b = await tapeOver(second, until);
    expect(a.trades.length).toBeGreaterThan(10_000);
    expect(b.bytes).toBe(a.bytes);
    const closedBy = Math.floor(until / 15_000) * 15_000;
    const truth = first.groundTruth("BTCUSDT", first.historyStart, closedBy);
    expect(truth.length).toBeGreaterThanOrEqual(59);
    expect(second.groundTruth("BTCUSDT", second.historyStart, closedBy)).toEqual(truth);

    const other = await startSim({ ...options, seed: 43 });
    started.push(other);
    expect((await tapeOver(other, until)).bytes).not.toBe(a.bytes);
  });
});

describe("a fixed seed and a fixed tape start", () => {
  it("serve the same market from simulators started at different nows, as after a restart", async () => {
    const tapeStart = FIXED_NOW - 20 * 60_000;
    const first = await startSim({ now: FIXED_NOW - 10 * 60_000, tapeStart, seed: 5, speed: 0 });
    const restarted = await startSim({ now: FIXED_NOW, tapeStart, seed: 5, speed: 0 });
    started.push(first, restarted);
    expect([first.historyStart, restarted.historyStart]).toEqual([tapeStart, tapeStart]);
    const until = first.clock();
    const before = await tapeOver(first, until);
    expect(before.trades.length).toBeGreaterThan(5_000);
    expect((await tapeOver(restarted, until)).bytes).toBe(before.bytes);
    const closedBy = Math.floor(until / 15_000) * 15_000;
    expect(restarted.groundTruth("BTCUSDT", tapeStart, closedBy)).toEqual(first.groundTruth("BTCUSDT", tapeStart, closedBy));
    // Without the pinned start, a later simulator draws another market over the same minutes.
    const unpinned = await startSim({ now: FIXED_NOW, historyHours: 1 / 3 - 1 / 60, seed: 5, speed: 0 });
    started.push(unpinned);
    expect((await tapeOver(unpinned, until)).bytes).not.toBe(before.bytes);
  });

  it("refuses a tape start after now or more than a week before it", async () => {
    await expect(startSim({ now: FIXED_NOW, tapeStart: FIXED_NOW + 1 })).rejects.toThrow(/tapeStart/);
    await expect(startSim({ now: FIXED_NOW, tapeStart: FIXED_NOW - 8 * 24 * 3_600_000 })).rejects.toThrow(/tapeStart/);
  });
});
