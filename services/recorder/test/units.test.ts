import { describe, expect, it } from "vitest";
import { decodeBarMessage } from "../src/decode.ts";
import { CatchUpProgress } from "../src/progress.ts";
import { TEST_SERIES_START, testBars } from "@gapfill/kit/testing";

const encode = (value: unknown) => new TextEncoder().encode(typeof value === "string" ? value : JSON.stringify(value));

describe("decodeBarMessage", () => {
  const [bar] = testBars("BTCUSDT", TEST_SERIES_START, 1);

  it("accepts a closed bar published on its own symbol's subject", () => {
    expect(decodeBarMessage("t1.bars.15s.BTCUSDT", encode(bar))).toEqual({ ok: true, bar });
  });

  it("says why a message is not a closed bar", () => {
    expect(decodeBarMessage("t1.bars.15s.BTCUSDT", encode("{nope"))).toMatchObject({ ok: false, reason: expect.stringMatching(/^not JSON/) });
    expect(decodeBarMessage("t1.bars.15s.BTCUSDT", new Uint8Array([0xff, 0xfe]))).toMatchObject({ ok: false, reason: expect.stringMatching(/^not JSON/) });
    expect(decodeBarMessage("t1.bars.15s.BTCUSDT", encode({ ...bar, ts: bar!.ts + 1 }))).toMatchObject({ ok: false, reason: expect.stringMatching(/^ts: must be a multiple of 15000/) });
    expect(decodeBarMessage("t1.bars.15s.BTCUSDT", encode({ ...bar, high: 1 }))).toMatchObject({ ok: false, reason: expect.stringContaining("high:") });
    expect(decodeBarMessage("t1.bars.15s.BTCUSDT", encode({ ...bar, extra: 1 }))).toMatchObject({ ok: false });
    expect(decodeBarMessage("t1.bars.15s.ETHUSDT", encode(bar))).toEqual({ ok: false, reason: "symbol BTCUSDT published on the subject of ETHUSDT" });
  });
});

describe("CatchUpProgress", () => {
  it("starts above the threshold, reports at its interval with a rising percentage, and finishes at zero pending", () => {
    const progress = new CatchUpProgress(1000, 5000);
    expect(progress.observe(500, 900, 0)).toBeNull();
    expect(progress.observe(500, 9500, 1000)).toEqual({ kind: "started", backlog: 10_000 });
    expect(progress.catchingUp).toBe(true);
    expect(progress.observe(500, 9000, 3000)).toBeNull();
    const report = progress.observe(500, 8500, 6000);
    expect(report).toMatchObject({ kind: "progress", percent: 15, recorded: 1500, pending: 8500 });
    // Bars arriving during the catch-up grow the backlog instead of pushing the percentage past 100.
    const later = progress.observe(8000, 2000, 12_000);
    expect(later).toMatchObject({ kind: "progress", recorded: 9500, pending: 2000, percent: 82.6 });
    expect(progress.observe(2000, 0, 13_000)).toEqual({ kind: "finished", recorded: 11_500, seconds: 12, barsPerSecond: 11_500 / 12 });
    expect(progress.catchingUp).toBe(false);
    expect(progress.observe(10, 0, 14_000)).toBeNull();
  });
});
