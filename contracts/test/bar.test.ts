import { describe, expect, it } from "vitest";
import { closedBarSchema, describeIssues, flatBar, formingBarSchema, type ClosedBar } from "../src/index.ts";

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
