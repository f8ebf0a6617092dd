import { describe, expect, it } from "vitest";
import { backoffDelayMs } from "../src/index.ts";

describe("backoffDelayMs", () => {
  const policy = { initialMs: 100, maxMs: 2000 };

  it("doubles its ceiling per attempt up to the cap and draws from the ceiling's upper half", () => {
    expect([0, 1, 2, 3, 4, 5, 40].map((attempt) => backoffDelayMs(attempt, policy, () => 0))).toEqual([50, 100, 200, 400, 800, 1000, 1000]);
    expect([0, 1, 2, 3, 4, 5, 40].map((attempt) => backoffDelayMs(attempt, policy, () => 0.999999))).toEqual([100, 200, 400, 800, 1600, 2000, 2000]);
  });

  it("treats a negative attempt as the first", () => {
    expect(backoffDelayMs(-3, policy, () => 0)).toBe(50);
  });
});
