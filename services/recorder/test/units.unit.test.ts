import { describe, expect, it } from "vitest";
import { CatchUpProgress } from "../src/progress.ts";

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
