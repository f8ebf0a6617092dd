import { describe, expect, it } from "vitest";
import { marketSpec } from "../src/market.ts";
import { klineRow, queryKlines, type EmptyKlines, type KlineQuery } from "../src/klines.ts";
import { Tape } from "../src/tape.ts";
import { referenceBars } from "../src/truth.ts";
import { FIXED_NOW, HOUR_MS, handTape, rollUpKlines, type KlineRow } from "./support.ts";

const B = 1_699_999_995_000;
const tape = handTape(B - 10_000, [
  { T: B + 200, price: "100.00", qty: "0.1", raw: 1, buyerIsMaker: false },
  { T: B + 900, price: "100.50", qty: "0.2", raw: 2, buyerIsMaker: true },
  { T: B + 3_000, audit: true },
  { T: B + 4_999, price: "99.99", qty: "0.00001", raw: 1, buyerIsMaker: false },
]);
const clock = B + 6_500;
const rows = (query: Partial<KlineQuery>) =>
  queryKlines(tape, { intervalMs: 1_000, offsetMs: 0, limit: 500, clock, emptyKlines: "include", ...query }).map(klineRow) as KlineRow[];

describe("klines from the tape", () => {
  it("are arrays in Binance's field order with exact sums", () => {
    expect(rows({ startTime: B, endTime: B })).toEqual([
      [B, "100.00000000", "100.50000000", "100.00000000", "100.50000000", "0.30000000", B + 999, "30.10000000", 3, "0.10000000", "10.00000000", "0"],
    ]);
  });

  it("include empty intervals as flat klines at the previous close (audit-only ones too), or leave them out", () => {
    const included = rows({ startTime: B, endTime: B + 5_000 });
    expect(included.map((row) => row[0])).toEqual([B, B + 1_000, B + 2_000, B + 3_000, B + 4_000, B + 5_000]);
    expect(included[3]).toEqual([B + 3_000, "100.50000000", "100.50000000", "100.50000000", "100.50000000", "0.00000000", B + 3_999, "0.00000000", 0, "0.00000000", "0.00000000", "0"]);
    expect(rows({ startTime: B, endTime: B + 5_000, emptyKlines: "omit" }).map((row) => row[0])).toEqual([B, B + 4_000]);
  });

  it("select open times >= startTime and <= endTime, never past the open kline, nothing before the first trade", () => {
    expect(rows({ startTime: B + 1, endTime: B + 2_000 }).map((row) => row[0])).toEqual([B + 1_000, B + 2_000]);
    expect(rows({ startTime: B - 60_000, limit: 2 }).map((row) => row[0])).toEqual([B, B + 1_000]);
    expect(rows({ startTime: B + 5_000 }).map((row) => row[0])).toEqual([B + 5_000, B + 6_000]);
    expect(rows({ startTime: clock + 1_000 })).toEqual([]);
  });

  it("without startTime return the newest `limit`, including the still-open kline", () => {
    expect(rows({ limit: 3 }).map((row) => row[0])).toEqual([B + 4_000, B + 5_000, B + 6_000]);
    expect(rows({ limit: 3, endTime: B + 2_500 }).map((row) => row[0])).toEqual([B, B + 1_000, B + 2_000]);
    expect(rows({ limit: 1, emptyKlines: "omit" }).map((row) => row[0])).toEqual([B + 4_000]);
    expect(rows({ limit: 5, emptyKlines: "omit" }).map((row) => row[0])).toEqual([B, B + 4_000]);
  });

  it("align longer intervals to the time zone", () => {
    const hourly = (offsetMs: number) =>
      queryKlines(tape, { intervalMs: HOUR_MS, offsetMs, limit: 10, clock, emptyKlines: "include" }).map((k) => k.openTime);
    expect(hourly(0)).toEqual([Math.floor(B / HOUR_MS) * HOUR_MS]);
    expect(hourly(5.75 * HOUR_MS)).toEqual([Math.floor((B + 5.75 * HOUR_MS) / HOUR_MS) * HOUR_MS - 5.75 * HOUR_MS]);
  });
});

describe("1 s klines re-aggregated to 15 s", () => {
  const generated = new Tape({ spec: marketSpec("BTCUSDT"), seed: 7, startMs: FIXED_NOW - 2 * HOUR_MS });
  generated.extendTo(FIXED_NOW);
  const to = Math.floor(FIXED_NOW / 15_000) * 15_000;
  const from = to - HOUR_MS;
  const truth = referenceBars(generated, from, to, FIXED_NOW).map((bar) => ({ ...bar, first_agg_id: null, last_agg_id: null }));

  it.each<EmptyKlines>(["include", "omit"])("equal the reference bars (empty klines: %s)", (emptyKlines) => {
    const klines: KlineRow[] = [];
    for (let start = from; start < to; start += 1_000_000) {
      const page = queryKlines(generated, { intervalMs: 1_000, offsetMs: 0, startTime: start, endTime: Math.min(start + 999_999, to - 1), limit: 1000, clock: FIXED_NOW, emptyKlines });
      klines.push(...(page.map(klineRow) as KlineRow[]));
    }
    const before = queryKlines(generated, { intervalMs: 1_000, offsetMs: 0, endTime: from - 1, limit: 1, clock: FIXED_NOW, emptyKlines: "omit" });
    expect(truth).toHaveLength(240);
    expect(rollUpKlines("BTCUSDT", klines, from, to, before[0]!.close)).toEqual(truth);
  });
});
