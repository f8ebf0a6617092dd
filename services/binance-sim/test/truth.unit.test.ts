import { describe, expect, it } from "vitest";
import { closedBarSchema } from "@gapfill/contracts";
import { referenceBars } from "../src/truth.ts";
import { handTape } from "./support.ts";

/** An aligned bar open time (a multiple of 15 000). */
const B = 1_699_999_995_000;

/** Trades on both edges of a bar, an audit record, quantities that drift in floating point, empty bars. */
const tape = handTape(B - 10_000, [
  { T: B, price: "100.00", qty: "0.1", raw: 1, buyerIsMaker: false },
  { T: B + 5_000, price: "101.50", qty: "0.2", raw: 2, buyerIsMaker: true },
  { T: B + 14_999, audit: true },
  { T: B + 14_999, price: "99.99", qty: "0.00001", raw: 1, buyerIsMaker: false },
  { T: B + 15_000, price: "100.01", qty: "1.23456", raw: 3, buyerIsMaker: true },
  { T: B + 46_000, audit: true },
  { T: B + 60_007, price: "102.00", qty: "0.3", raw: 1, buyerIsMaker: false },
]);
const id = (index: number) => tape.firstAggId + index;
const flat = (ts: number, price: number) => ({
  symbol: "BTCUSDT",
  ts,
  open: price,
  high: price,
  low: price,
  close: price,
  volume: 0,
  quote_volume: 0,
  trades: 0,
  taker_buy_volume: 0,
  first_agg_id: null,
  last_agg_id: null,
});

describe("ground truth (decimal-exact reference bars)", () => {
  const bars = referenceBars(tape, B, B + 75_000, B + 75_000);

  it("sums exactly, counts raw trades, keeps the taker-buy side and the agg ids, ignores audit records", () => {
    expect(bars[0]).toEqual({
      symbol: "BTCUSDT",
      ts: B,
      open: 100,
      high: 101.5,
      low: 99.99,
      close: 99.99,
      volume: 0.30001,
      quote_volume: 30.3009999,
      trades: 4,
      taker_buy_volume: 0.10001,
      first_agg_id: id(0),
      last_agg_id: id(3),
    });
    expect(bars[1]).toEqual({
      symbol: "BTCUSDT",
      ts: B + 15_000,
      open: 100.01,
      high: 100.01,
      low: 100.01,
      close: 100.01,
      volume: 1.23456,
      quote_volume: 123.4683456,
      trades: 3,
      taker_buy_volume: 0,
      first_agg_id: id(4),
      last_agg_id: id(4),
    });
    expect(bars[4]).toMatchObject({ ts: B + 60_000, open: 102, close: 102, volume: 0.3, quote_volume: 30.6, trades: 1, taker_buy_volume: 0.3, first_agg_id: id(6) });
    for (const bar of bars) expect(closedBarSchema.safeParse(bar).success).toBe(true);
  });

  it("fills intervals without trades (or with only audit records) with flat bars at the previous close", () => {
    expect(bars.map((bar) => bar.ts)).toEqual([B, B + 15_000, B + 30_000, B + 45_000, B + 60_000]);
    expect(bars[2]).toEqual(flat(B + 30_000, 100.01));
    expect(bars[3]).toEqual(flat(B + 45_000, 100.01));
  });

  it("answers open times in [from, to), only closed bars, and none before the first trade", () => {
    expect(referenceBars(tape, B + 15_000, B + 45_000, B + 75_000).map((bar) => bar.ts)).toEqual([B + 15_000, B + 30_000]);
    expect(referenceBars(tape, B + 1, B + 31_000, B + 75_000).map((bar) => bar.ts)).toEqual([B + 15_000, B + 30_000]);
    expect(referenceBars(tape, B, B + 75_000, B + 74_999).map((bar) => bar.ts)).toEqual([B, B + 15_000, B + 30_000, B + 45_000]);
    expect(referenceBars(tape, B - 45_000, B + 15_000, B + 75_000).map((bar) => bar.ts)).toEqual([B]);
    expect(referenceBars(tape, B + 30_000, B + 45_000, B + 75_000)).toEqual([flat(B + 30_000, 100.01)]);
  });

  it("does not see trades after the clock", () => {
    const early = referenceBars(tape, B, B + 15_000, B + 15_000);
    expect(early).toHaveLength(1);
    expect(early[0]!.close).toBe(99.99);
  });
});
