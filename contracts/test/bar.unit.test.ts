import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { closedBarSchema, describeIssues, flatBar, formingBarSchema, isClosedBar, type ClosedBar } from "../src/index.ts";

const validBar: ClosedBar = {
  symbol: "BTCUSDT",
  ts: 1_700_000_010_000 - (1_700_000_010_000 % 15_000),
  open: 37000.5,
  high: 37010,
  low: 36990.01,
  close: 37005.25,
  volume: 12.34567,
  quote_volume: 456789.0123456,
  trades: 321,
  taker_buy_volume: 6.1,
  first_agg_id: 100,
  last_agg_id: 180,
};

/** The message zod gives for `bar` with one field changed, or "valid". */
function problemWith(patch: Record<string, unknown>, omit?: keyof ClosedBar): string {
  const bar: Record<string, unknown> = { ...validBar, ...patch };
  if (omit) delete bar[omit];
  const parsed = closedBarSchema.safeParse(bar);
  return parsed.success ? "valid" : describeIssues(parsed.error);
}

describe("closed bar schema", () => {
  it("accepts a valid bar, a flat bar and null agg ids", () => {
    expect(problemWith({})).toBe("valid");
    expect(closedBarSchema.parse(flatBar("BTCUSDT", validBar.ts, 37000))).toMatchObject({ trades: 0, volume: 0 });
    expect(problemWith({ first_agg_id: null, last_agg_id: null })).toBe("valid");
  });

  it.each([
    ["unaligned ts", { ts: validBar.ts + 1 }, /^ts: must be a multiple of 15000/],
    ["fractional ts", { ts: validBar.ts + 0.5 }, /^ts: /],
    ["negative ts", { ts: -15_000 }, /^ts: /],
    ["negative volume", { volume: -1 }, /^volume: /],
    ["negative quote volume", { quote_volume: -0.01 }, /^quote_volume: /],
    ["high below low", { high: 36000, low: 36500, open: 36200, close: 36200 }, /high: must be >= low/],
    ["high below close", { close: 37020 }, /^high: must be >= open and close/],
    ["low above open", { open: 36980 }, /^low: must be <= open and close/],
    ["NaN price", { open: Number.NaN }, /^open: /],
    ["infinite volume", { volume: Number.POSITIVE_INFINITY }, /^volume: /],
    ["string price", { close: "37005.25" }, /^close: /],
    ["fractional trades", { trades: 1.5 }, /^trades: /],
    ["taker volume above volume", { taker_buy_volume: 20 }, /^taker_buy_volume: must be <= volume/],
    ["only one agg id", { first_agg_id: null }, /^last_agg_id: must be null exactly when/],
    ["agg ids reversed", { first_agg_id: 200 }, /^last_agg_id: must be >= first_agg_id/],
    ["lower-case symbol", { symbol: "btcusdt" }, /^symbol: must be 2-20 upper-case/],
    ["unicode symbol", { symbol: "BTC₿USDT" }, /^symbol: /],
    ["unknown field", { extra: 1 }, /extra/],
  ])("rejects %s, naming the field", (_name, patch, message) => {
    expect(problemWith(patch)).toMatch(message);
  });

  it.each(["symbol", "ts", "open", "high", "low", "close", "volume", "quote_volume", "trades", "taker_buy_volume", "first_agg_id", "last_agg_id"] as const)(
    "rejects a bar missing %s, naming it",
    (field) => {
      expect(problemWith({}, field)).toMatch(new RegExp(`(^|; )${field}: `));
    },
  );

  it("a forming bar carries as_of and obeys the same rules", () => {
    expect(formingBarSchema.safeParse({ ...validBar, as_of: validBar.ts + 1234 }).success).toBe(true);
    const bad = formingBarSchema.safeParse({ ...validBar, as_of: null, high: 1, low: 2 });
    expect(bad.success).toBe(false);
    expect(describeIssues(bad.error!)).toMatch(/high: must be >= low/);
  });
});

describe("isClosedBar (the decoders' fast path)", () => {
  const anyValue = fc.oneof(
    fc.double(),
    fc.integer({ min: -1, max: 2 ** 53 }),
    fc.constantFrom(null, "", "BTCUSDT", "btc", true, Infinity, -0, 15_000, Number.MAX_SAFE_INTEGER + 1),
    fc.array(fc.integer(), { maxLength: 2 }),
  );
  const field = fc.constantFrom(...(Object.keys(validBar) as (keyof ClosedBar)[]));
  /** A valid bar with a few fields replaced, removed or added. */
  const mutated = fc
    .tuple(fc.array(fc.tuple(field, anyValue), { maxLength: 3 }), fc.option(field), fc.option(fc.tuple(fc.string({ maxLength: 3 }), anyValue)))
    .map(([patches, removed, extra]) => {
      const bar: Record<string, unknown> = { ...validBar, ...Object.fromEntries(patches) };
      if (removed !== null) delete bar[removed];
      if (extra !== null) bar[extra[0]] = extra[1];
      return bar;
    });
  /** Bars valid by construction, over the whole range of each field. */
  const valid = fc
    .record({
      ts: fc.integer({ min: 0, max: 10_000_000 }).map((n) => n * 15_000),
      prices: fc.array(fc.double({ min: 1e-8, max: 1e9, noNaN: true }), { minLength: 4, maxLength: 4 }),
      volume: fc.double({ min: 0, max: 1e12, noNaN: true }),
      takerShare: fc.double({ min: 0, max: 1, noNaN: true }),
      trades: fc.nat(),
      ids: fc.option(fc.tuple(fc.nat(), fc.nat())),
    })
    .map(({ ts, prices, volume, takerShare, trades, ids }): ClosedBar => {
      const sorted = [...prices].sort((a, b) => a - b);
      return {
        symbol: "ETHUSDT",
        ts,
        open: sorted[1]!,
        high: sorted[3]!,
        low: sorted[0]!,
        close: sorted[2]!,
        volume,
        quote_volume: volume * 2,
        trades,
        taker_buy_volume: volume * takerShare,
        first_agg_id: ids ? Math.min(...ids) : null,
        last_agg_id: ids ? Math.max(...ids) : null,
      };
    });

  it("accepts nothing the schema refuses, and the schema returns such a value unchanged (property)", () => {
    fc.assert(
      fc.property(fc.oneof(mutated, valid), (value) => {
        if (!isClosedBar(value)) return;
        const parsed = closedBarSchema.safeParse(value);
        expect(parsed.success).toBe(true);
        expect(parsed.data).toEqual(value);
      }),
      { numRuns: 5000 },
    );
  });

  it("takes every valid bar (property), so the schema is asked only about bad ones", () => {
    fc.assert(
      fc.property(valid, (bar) => {
        expect(isClosedBar(bar)).toBe(closedBarSchema.safeParse(bar).success);
      }),
    );
    expect(isClosedBar(validBar)).toBe(true);
    expect(isClosedBar(flatBar("BTCUSDT", validBar.ts, 37000))).toBe(true);
  });
});
