import { describe, expect, it } from "vitest";
import { BAR_MS, barOpenTime, isAlignedBarTs, lastClosedBarTs, nextBarTs, previousBarTs } from "../src/index.ts";

describe("bar time", () => {
  const k = 113_333_334;
  it("buckets a trade by the open time of its 15 s interval, boundaries included", () => {
    expect(barOpenTime(k * BAR_MS)).toBe(k * BAR_MS);
    expect(barOpenTime(k * BAR_MS - 1)).toBe((k - 1) * BAR_MS);
    expect(barOpenTime(k * BAR_MS + 14_999)).toBe(k * BAR_MS);
    expect(barOpenTime(0)).toBe(0);
  });

  it("steps and checks alignment", () => {
    expect(nextBarTs(k * BAR_MS)).toBe((k + 1) * BAR_MS);
    expect(previousBarTs(k * BAR_MS)).toBe((k - 1) * BAR_MS);
    expect(isAlignedBarTs(k * BAR_MS)).toBe(true);
    expect(isAlignedBarTs(k * BAR_MS + 1)).toBe(false);
    expect(isAlignedBarTs(-BAR_MS)).toBe(false);
    expect(isAlignedBarTs(Number.NaN)).toBe(false);
  });

  it("the last closed bar at a given wall-clock time is the one whose end has passed", () => {
    expect(lastClosedBarTs(k * BAR_MS)).toBe((k - 1) * BAR_MS);
    expect(lastClosedBarTs(k * BAR_MS + 1)).toBe((k - 1) * BAR_MS);
    expect(lastClosedBarTs(k * BAR_MS - 1)).toBe((k - 2) * BAR_MS);
  });
});
