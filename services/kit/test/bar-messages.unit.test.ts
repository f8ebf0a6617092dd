import { describe, expect, it } from "vitest";
import { decodeBarMessage } from "../src/index.ts";
import { TEST_SERIES_START, testBars } from "@gapfill/testkit";

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

