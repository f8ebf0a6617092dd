import { describe, expect, it } from "vitest";
import { BAR_MS } from "@gapfill/contracts";
import { TEST_SERIES_START, testBars } from "@gapfill/testkit";
import { SymbolBars, type StoredBar } from "../src/bar-runs.ts";

/** Bars of one symbol as stored one after another from sequence 100. */
const stored = (count: number, fromIndex = 0): StoredBar[] =>
  testBars("BTCUSDT", TEST_SERIES_START, fromIndex + count).slice(fromIndex).map((bar, i) => ({ bar, seq: 100 + fromIndex + i }));
const tsAt = (index: number) => TEST_SERIES_START + index * BAR_MS;

describe("SymbolBars", () => {
  it("extends one run with bars in order and serves every window it holds", () => {
    const bars = new SymbolBars(8);
    const all = stored(12);
    const runs = all.map((s) => bars.add(s));
    expect(new Set(runs).size).toBe(1);
    const run = runs[0]!;
    expect(run.window(tsAt(11), 8)).toEqual(all.slice(4, 12).map((s) => s.bar));
    expect(run.window(tsAt(6), 8)).toBeNull();
    expect(run.startsSeries).toBe(false);
  });

  it("trims a run to the newest bars in steps, and then no longer claims to start the series", () => {
    const bars = new SymbolBars(4);
    const all = stored(8);
    let run = bars.add(all[0]!);
    run.prepend([], tsAt(0) - 3 * BAR_MS);
    expect(run.startsSeries).toBe(true);
    for (const s of all.slice(1)) run = bars.add(s);
    expect(run.firstTs).toBe(tsAt(4));
    expect(run.firstSeq).toBe(104);
    expect(run.startsSeries).toBe(false);
    expect(run.window(tsAt(7), 4)).toEqual(all.slice(4).map((s) => s.bar));
  });

  it("starts a new run after a gap, and keeps a run of redelivered older bars apart from the newest", () => {
    const bars = new SymbolBars(8);
    const all = stored(20);
    const newest = all.slice(10).map((s) => bars.add(s))[0]!;
    // Redeliveries of older bars arrive after newer ones: they form their own run.
    const replay = all.slice(2, 6).map((s) => bars.add(s));
    expect(new Set(replay).size).toBe(1);
    expect(replay[0]).not.toBe(newest);
    expect(replay[0]!.firstTs).toBe(tsAt(2));
    // A bar already held changes nothing and names its run.
    expect(bars.add(all[12]!)).toBe(newest);
    expect(newest.firstTs).toBe(tsAt(10));
    expect(newest.lastTs).toBe(tsAt(19));
  });

  it("puts the stream's earlier bars in front of a run, up to a gap, and says when the series starts there", () => {
    const bars = new SymbolBars(8);
    const all = stored(12);
    const run = bars.add(all[8]!);
    // Read back: bars 1..7 with bar 3 missing, and an older copy of bar 6 replaced by a later one.
    const republished = { ...all[6]!, bar: { ...all[6]!.bar, trades: 7 }, seq: 150 };
    run.prepend([...all.slice(1, 3), ...all.slice(4, 8), republished], tsAt(1));
    expect(run.firstTs).toBe(tsAt(4));
    expect(run.bars[2]).toEqual(republished.bar);
    expect(run.startsSeries).toBe(true);
    expect(run.window(tsAt(8), 5)).toEqual([all[4]!.bar, all[5]!.bar, republished.bar, all[7]!.bar, all[8]!.bar]);
    expect(run.window(tsAt(8), 6)).toBeNull();
  });

  it("does not claim the series starts at a run that reaches the window's start", () => {
    const bars = new SymbolBars(8);
    const all = stored(10);
    const run = bars.add(all[9]!);
    run.prepend(all.slice(0, 9), tsAt(2));
    expect(run.firstTs).toBe(tsAt(0));
    expect(run.startsSeries).toBe(false);
    expect(run.window(tsAt(9), 8)).toEqual(all.slice(2).map((s) => s.bar));
  });
});
