import { describe, expect, it } from "vitest";
import { WeightLimiter } from "../src/weight-limiter.ts";

function limiterAt(start: number) {
  const clock = { now: start };
  const limiter = new WeightLimiter({ limit: 10, windowMs: 60_000, banAfterRejections: 2, banBaseMs: 120_000, banMaxMs: 3 * 24 * 3_600_000, wallNow: () => clock.now });
  return { limiter, clock };
}

describe("request weight limiter", () => {
  it("adds each request's weight per IP and resets at the start of each window", () => {
    const { limiter, clock } = limiterAt(1_000_040_000);
    expect(limiter.admit("a", 4)).toEqual({ kind: "ok", usedWeight: 4 });
    expect(limiter.admit("a", 4)).toEqual({ kind: "ok", usedWeight: 8 });
    expect(limiter.admit("b", 2)).toEqual({ kind: "ok", usedWeight: 2 });
    expect(limiter.usedWeights()).toEqual({ a: 8, b: 2 });
    clock.now = 1_000_080_000;
    expect(limiter.usedWeight("a")).toBe(0);
    expect(limiter.admit("a", 1)).toEqual({ kind: "ok", usedWeight: 1 });
  });

  it("answers past the limit with the seconds left in the window, then bans a client that keeps going", () => {
    const { limiter, clock } = limiterAt(1_000_040_000);
    limiter.admit("a", 8);
    expect(limiter.admit("a", 4)).toEqual({ kind: "limited", usedWeight: 12, retryAfterSeconds: 40 });
    clock.now += 10_500;
    expect(limiter.admit("a", 4)).toEqual({ kind: "limited", usedWeight: 16, retryAfterSeconds: 30 });
    const banned = limiter.admit("a", 4);
    expect(banned).toEqual({ kind: "banned", usedWeight: 20, retryAfterSeconds: 120, bannedUntil: clock.now + 120_000 });
    expect(limiter.admit("b", 1).kind).toBe("ok");
    clock.now += 119_000;
    expect(limiter.admit("a", 1)).toMatchObject({ kind: "banned", retryAfterSeconds: 1 });
    clock.now += 1_000;
    expect(limiter.admit("a", 1)).toEqual({ kind: "ok", usedWeight: 1 });
  });

  it("gives a client whose ban ended inside the window 429s again before banning it for longer", () => {
    const clock = { now: 0 };
    const limiter = new WeightLimiter({ limit: 10, windowMs: 3_600_000, banAfterRejections: 1, banBaseMs: 1_000, banMaxMs: 10_000, wallNow: () => clock.now });
    const kinds = () => limiter.admit("a", 11).kind;
    expect([kinds(), kinds()]).toEqual(["limited", "banned"]);
    clock.now += 1_000;
    expect([kinds(), kinds()]).toEqual(["limited", "banned"]);
    expect(limiter.admit("a", 1)).toMatchObject({ kind: "banned", retryAfterSeconds: 2 });
  });

  it("doubles each further ban of the same IP, up to the maximum", () => {
    const { limiter, clock } = limiterAt(0);
    const bansFor = (count: number) => {
      const lengths: number[] = [];
      for (let ban = 0; ban < count; ban++) {
        let answer = limiter.admit("a", 11);
        while (answer.kind !== "banned") answer = limiter.admit("a", 11);
        lengths.push(answer.retryAfterSeconds);
        clock.now = answer.bannedUntil + 60_000;
      }
      return lengths;
    };
    expect(bansFor(13)).toEqual([120, 240, 480, 960, 1920, 3840, 7680, 15360, 30720, 61440, 122880, 245760, 259200]);
  });
});
