import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BAR_MS,
  closedBarSchema,
  EMBEDDING_DIM,
  FEATURE_LAYOUT,
  flatBar,
  type ClosedBar,
  type FeatureName,
} from "@gapfill/contracts";
import { embeddingAt, featurize, FeatureWindowError } from "../src/featurize.ts";

fc.configureGlobal({ seed: 20_261_201, numRuns: 150 });

const SYMBOL = "BTCUSDT";
/** Monday 2024-01-01 00:00 UTC. */
const MONDAY = Date.UTC(2024, 0, 1);

const component = (embedding: Float32Array, name: FeatureName) => embedding[FEATURE_LAYOUT.indexOf(name)]!;
const bytesOf = (embedding: Float32Array) => Buffer.from(embedding.buffer, embedding.byteOffset, embedding.byteLength);

/** Prices and amounts: mostly the realistic range, sometimes anything a double allows, often its very ends. */
const price = fc.oneof(
  { weight: 4, arbitrary: fc.double({ min: 1e-8, max: 1e9, noNaN: true }) },
  { weight: 1, arbitrary: fc.double({ min: Number.MIN_VALUE, max: Number.MAX_VALUE, noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.constantFrom(Number.MIN_VALUE, 1e-8, 1e9, Number.MAX_VALUE) },
);
const amount = fc.oneof(
  { weight: 1, arbitrary: fc.constant(0) },
  { weight: 4, arbitrary: fc.double({ min: 0, max: 1e12, noNaN: true }) },
  { weight: 1, arbitrary: fc.double({ min: 0, max: Number.MAX_VALUE, noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.constantFrom(Number.MIN_VALUE, 1e12, Number.MAX_VALUE) },
);

type BarFields = Omit<ClosedBar, "symbol" | "ts">;

/** The fields of one valid bar: a traded one with any shape, or a flat one. */
const barFields: fc.Arbitrary<BarFields> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .record({
        open: price,
        close: price,
        highBeyond: price,
        lowBeyond: price,
        volume: amount,
        takerShare: fc.double({ min: 0, max: 1, noNaN: true }),
        quote: amount,
        trades: fc.oneof(fc.constant(1), fc.integer({ min: 0, max: 1_000_000 }), fc.maxSafeNat()),
        ids: fc.option(fc.tuple(fc.maxSafeNat(), fc.nat()), { nil: null }),
      })
      .map(({ open, close, highBeyond, lowBeyond, volume, takerShare, quote, trades, ids }) => ({
        open,
        close,
        high: Math.max(open, close, highBeyond),
        low: Math.min(open, close, lowBeyond),
        volume,
        quote_volume: quote,
        trades,
        taker_buy_volume: volume * takerShare,
        first_agg_id: ids && ids[0],
        last_agg_id: ids && Math.min(ids[0] + ids[1], Number.MAX_SAFE_INTEGER),
      })),
  },
  { weight: 1, arbitrary: price.map((p) => flatBar(SYMBOL, 0, p) as BarFields) },
);

const withTimes = (fields: readonly BarFields[], firstTs: number): ClosedBar[] =>
  fields.map((f, i) => ({ ...f, symbol: SYMBOL, ts: firstTs + i * BAR_MS }));

/** Consecutive bars of one symbol starting at an aligned time between 1970 and about 2065. */
const series = (minLength: number, maxLength: number) =>
  fc
    .tuple(fc.integer({ min: 0, max: 2e8 }), fc.array(barFields, { minLength, maxLength }))
    .map(([startBar, fields]) => withTimes(fields, startBar * BAR_MS));

describe("featurize over arbitrary valid bars", () => {
  it("gives EMBEDDING_DIM finite float32 values, never -0, from bars closedBarSchema accepts", () => {
    fc.assert(
      fc.property(series(1, 300), (window) => {
        for (const bar of window) expect(closedBarSchema.safeParse(bar).error).toBeUndefined();
        const embedding = featurize(window);
        expect(embedding).toBeInstanceOf(Float32Array);
        expect(embedding).toHaveLength(EMBEDDING_DIM);
        for (const [i, value] of embedding.entries()) {
          expect(Number.isFinite(value), `${FEATURE_LAYOUT[i]} = ${value}`).toBe(true);
          expect(Object.is(value, -0), `${FEATURE_LAYOUT[i]} is -0`).toBe(false);
        }
      }),
    );
  });

  it("is deterministic: the same window gives identical bytes, also after a JSON round trip of the bars", () => {
    fc.assert(
      fc.property(series(1, 120), (window) => {
        const first = bytesOf(featurize(window));
        expect(bytesOf(featurize(window))).toEqual(first);
        expect(bytesOf(featurize(JSON.parse(JSON.stringify(window)) as ClosedBar[]))).toEqual(first);
      }),
    );
  });
});

describe("causality: the embedding at ts depends only on the window ending at ts", () => {
  const windowBars = 24;
  /** A series with at least one full window, an index in it that has one, and other bars for the same times. */
  const scenario = fc
    .tuple(series(windowBars, windowBars + 40), fc.array(barFields, { minLength: 1, maxLength: 60 }), fc.nat())
    .map(([bars, others, pick]) => ({ bars, others, at: windowBars - 1 + (pick % (bars.length - windowBars + 1)) }));

  it("never changes when bars after ts change, or when bars are appended", () => {
    fc.assert(
      fc.property(scenario, ({ bars, others, at }) => {
        const ts = bars[at]!.ts;
        const expected = bytesOf(embeddingAt(bars, ts, windowBars)!);
        const prefix = bars.slice(0, at + 1);
        expect(bytesOf(embeddingAt(prefix, ts, windowBars)!)).toEqual(expected);
        const rewrittenFuture = [...prefix, ...withTimes(others, ts + BAR_MS)];
        expect(bytesOf(embeddingAt(rewrittenFuture, ts, windowBars)!)).toEqual(expected);
        const appended = [...bars, ...withTimes(others, bars.at(-1)!.ts + BAR_MS)];
        expect(bytesOf(embeddingAt(appended, ts, windowBars)!)).toEqual(expected);
      }),
    );
  });

  it("never changes when bars before the window change", () => {
    fc.assert(
      fc.property(scenario, ({ bars, others, at }) => {
        const ts = bars[at]!.ts;
        const start = at - windowBars + 1;
        const expected = bytesOf(embeddingAt(bars, ts, windowBars)!);
        const earlier = withTimes(others, bars[start]!.ts - others.length * BAR_MS).filter((bar) => bar.ts >= 0);
        expect(bytesOf(embeddingAt([...earlier, ...bars.slice(start)], ts, windowBars)!)).toEqual(expected);
      }),
    );
  });

  it("makes no embedding until a full window exists", () => {
    fc.assert(
      fc.property(series(1, windowBars + 5), (bars) => {
        bars.forEach((bar, i) => {
          const embedding = embeddingAt(bars, bar.ts, windowBars);
          if (i < windowBars - 1) expect(embedding).toBeNull();
          else expect(embedding).toHaveLength(EMBEDDING_DIM);
        });
      }),
    );
  });
});

describe("featurize on hand-checkable windows", () => {
  it("an hour of flat bars: no movement, no volume, all bars flat; the time of day and week of its newest bar", () => {
    // Newest bar opens Monday 06:00:00 UTC: a quarter of the day, 6 h of the 168 h week.
    const newestTs = MONDAY + 6 * 3_600_000;
    const window = Array.from({ length: 240 }, (_, i) => flatBar(SYMBOL, newestTs - (239 - i) * BAR_MS, 100));
    const embedding = featurize(window);
    const expected: Partial<Record<FeatureName, number>> = {
      ret_1: 0, ret_4: 0, ret_20: 0, ret_60: 0, ret_240: 0, rv_20: 0, rv_240: 0, range_1: 0, range_20: 0, range_240: 0,
      close_pos_240: 0.5, vwap_dev_240: 0, volume_z_1: 0, volume_z_4: 0, quote_volume_z_1: 0, quote_volume_z_4: 0,
      taker_buy_ratio_1: 0.5, taker_buy_ratio_20: 0.5, trades_ratio_1: 0, trades_ratio_4: 0, flat_share: 1,
    };
    for (const [name, value] of Object.entries(expected)) expect(component(embedding, name as FeatureName), name).toBe(value);
    expect(component(embedding, "time_of_day_sin")).toBe(1);
    expect(component(embedding, "time_of_day_cos")).toBeCloseTo(0, 7);
    expect(component(embedding, "day_of_week_sin")).toBeCloseTo(Math.sin((2 * Math.PI) / 28), 7);
    expect(component(embedding, "day_of_week_cos")).toBeCloseTo(Math.cos((2 * Math.PI) / 28), 7);
  });

  it("five bars each doubling the price: horizons past the window use the whole window", () => {
    // Bar i trades from 100·2^i up to 100·2^(i+1), one unit at its close; the last bar has nine trades.
    const window: ClosedBar[] = Array.from({ length: 5 }, (_, i) => {
      const open = 100 * 2 ** i;
      const close = 2 * open;
      return {
        symbol: SYMBOL, ts: MONDAY + i * BAR_MS, open, high: close, low: open, close, volume: 1, quote_volume: close,
        trades: i === 4 ? 9 : 1, taker_buy_volume: 0.25, first_agg_id: null, last_agg_id: null,
      };
    });
    const embedding = featurize(window);
    const { LN2 } = Math;
    const expected: Partial<Record<FeatureName, number>> = {
      ret_1: LN2, ret_4: 4 * LN2, ret_20: 5 * LN2, ret_60: 5 * LN2, ret_240: 5 * LN2,
      rv_20: LN2, rv_240: LN2, range_1: LN2, range_20: 5 * LN2, range_240: 5 * LN2,
      close_pos_240: 1,
      // vwap = (200 + 400 + 800 + 1600 + 3200) / 5 = 1240
      vwap_dev_240: Math.log(3200 / 1240),
      volume_z_1: 0, volume_z_4: 0, taker_buy_ratio_1: 0.25, taker_buy_ratio_20: 0.25,
      // mean trades: 13 / 5 = 2.6 over the window, 12 / 4 = 3 over the newest four
      trades_ratio_1: Math.log(10 / 3.6), trades_ratio_4: Math.log(4 / 3.6),
      flat_share: 0,
    };
    for (const [name, value] of Object.entries(expected)) expect(component(embedding, name as FeatureName), name).toBeCloseTo(value, 5);
    expect(component(embedding, "quote_volume_z_1")).toBeGreaterThan(1);
  });

  it("a volume burst after three quiet bars: z-score sqrt(3) for the newest bar, 0 for the mean of all four", () => {
    // log1p(volume) is 0, 0, 0, 2: mean 0.5, population standard deviation sqrt(0.75).
    const window = Array.from({ length: 4 }, (_, i): ClosedBar => ({
      ...flatBar(SYMBOL, MONDAY + i * BAR_MS, 50),
      ...(i === 3 ? { volume: Math.E ** 2 - 1, quote_volume: 50 * (Math.E ** 2 - 1), trades: 3, taker_buy_volume: (Math.E ** 2 - 1) / 2 } : {}),
    }));
    const embedding = featurize(window);
    expect(component(embedding, "volume_z_1")).toBeCloseTo(Math.sqrt(3), 5);
    expect(component(embedding, "volume_z_4")).toBeCloseTo(0, 6);
    expect(component(embedding, "taker_buy_ratio_1")).toBeCloseTo(0.5, 6);
    expect(component(embedding, "taker_buy_ratio_20")).toBeCloseTo(0.5, 6);
    expect(component(embedding, "vwap_dev_240")).toBeCloseTo(0, 6);
    expect(component(embedding, "flat_share")).toBe(0.75);
    // mean trades 0.75 over the window: ln(4 / 1.75) for the newest bar
    expect(component(embedding, "trades_ratio_1")).toBeCloseTo(Math.log(4 / 1.75), 5);
  });
});

describe("featurize on equal values", () => {
  it("gives z-scores of exactly 0 when every bar has the same volumes, not rounding noise", () => {
    // 0.1 and 0.3 are not binary fractions: a plain mean of their log1p differs from each in the last bits.
    const window = Array.from({ length: 240 }, (_, i): ClosedBar => ({
      symbol: SYMBOL, ts: MONDAY + i * BAR_MS, open: 3, high: 3, low: 3, close: 3, volume: 0.1, quote_volume: 0.3,
      trades: 2, taker_buy_volume: 0.05, first_agg_id: null, last_agg_id: null,
    }));
    const embedding = featurize(window);
    for (const name of ["volume_z_1", "volume_z_4", "quote_volume_z_1", "quote_volume_z_4", "trades_ratio_1"] as const) {
      expect(component(embedding, name), name).toBe(0);
    }
  });
});

describe("featurize refuses a window it cannot use", () => {
  const bars = withTimes(Array.from({ length: 3 }, () => flatBar(SYMBOL, 0, 1) as BarFields), MONDAY);
  it.each([
    ["empty", [] as ClosedBar[], /at least one bar/],
    ["out of order", [bars[1]!, bars[0]!], /consecutive bars oldest to newest: bar 1 opens at/],
    ["with a gap", [bars[0]!, bars[2]!], /consecutive bars/],
    ["of two symbols", [bars[0]!, { ...bars[1]!, symbol: "ETHUSDT" }], /one symbol, got BTCUSDT and ETHUSDT/],
  ])("%s", (_, window, message) => {
    expect(() => featurize(window)).toThrow(FeatureWindowError);
    expect(() => featurize(window)).toThrow(message);
  });
});
