import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MarketClock, offsetFrom } from "../src/market-clock.ts";

describe("clock offset to Binance", () => {
  it("is zero when Binance's time lies within the round trip", () => {
    expect(offsetFrom({ sentAt: 1000, serverTime: 1000, receivedAt: 1010 })).toBe(0);
    expect(offsetFrom({ sentAt: 1000, serverTime: 1007, receivedAt: 1010 })).toBe(0);
  });

  it("is the smallest correction that fits the round trip otherwise", () => {
    // Host 30 s ahead: Binance said 30 s earlier than the host's send time.
    expect(offsetFrom({ sentAt: 31_000, serverTime: 1005, receivedAt: 31_010 })).toBe(-29_995);
    // Host 30 s behind.
    expect(offsetFrom({ sentAt: 1000, serverTime: 31_005, receivedAt: 1010 })).toBe(29_995);
  });

  it("leaves market time within one round trip of Binance's, whatever the skew", () => {
    fc.assert(
      fc.property(fc.integer({ min: -3_600_000, max: 3_600_000 }), fc.nat(200), fc.nat(200), (skew, out, back) => {
        // Binance's clock reads `serverTime` when the request reaches it, `out` ms after it left the host.
        const sentAt = 1_700_000_000_000;
        const serverTime = sentAt + out - skew;
        const receivedAt = sentAt + out + back;
        const clock = new MarketClock(() => receivedAt);
        clock.correct({ sentAt, serverTime, receivedAt });
        const binanceNow = receivedAt - skew;
        expect(Math.abs(clock.now() - binanceNow)).toBeLessThanOrEqual(out + back);
      }),
    );
  });
});
