import { describe, expect, it } from "vitest";
import { parseAggTradeFrame, parseAggTradeRows, parseKlineRows, WireError } from "../src/binance/wire.ts";

const event = {
  e: "aggTrade",
  E: 1_700_000_000_123,
  s: "BTCUSDT",
  a: 2_345_678_901,
  p: "37000.12000000",
  q: "0.00120000",
  f: 4_000_000_001,
  l: 4_000_000_003,
  T: 1_700_000_000_120,
  m: false,
  M: true,
};
const trade = {
  symbol: "BTCUSDT",
  id: 2_345_678_901,
  price: 3_700_012_000_000,
  quantity: 120_000,
  firstTradeId: 4_000_000_001,
  lastTradeId: 4_000_000_003,
  time: 1_700_000_000_120,
  buyerIsMaker: false,
  audit: false,
};

describe("WebSocket aggTrade frames", () => {
  it("reads a plain and a combined-stream frame alike", () => {
    expect(parseAggTradeFrame(JSON.stringify(event))).toEqual(trade);
    expect(parseAggTradeFrame(JSON.stringify({ stream: "btcusdt@aggTrade", data: event }))).toEqual(trade);
  });

  it("flags an invalid audit record but keeps its id", () => {
    const audit = { ...event, p: "0", q: "0", f: -1, l: -1 };
    expect(parseAggTradeFrame(JSON.stringify(audit))).toMatchObject({ id: event.a, audit: true, price: 0, quantity: 0 });
  });

  it.each([
    ["not JSON", "{"],
    ["a subscription reply", '{"result":null,"id":1}'],
    ["another event type", JSON.stringify({ ...event, e: "trade" })],
    ["a kline event", JSON.stringify({ stream: "btcusdt@kline_1s", data: { e: "kline", s: "BTCUSDT", k: {} } })],
    ["a missing id", JSON.stringify({ ...event, a: undefined })],
    ["a negative id", JSON.stringify({ ...event, a: -5 })],
    ["a numeric price", JSON.stringify({ ...event, p: 37000.12 })],
    ["a price with 9 decimals", JSON.stringify({ ...event, p: "1.123456789" })],
    ["a fractional time", JSON.stringify({ ...event, T: 1.5 })],
    ["raw ids backwards", JSON.stringify({ ...event, f: 10, l: 9 })],
    ["a string flag", JSON.stringify({ ...event, m: "false" })],
    ["null", "null"],
    ["an array", "[1,2]"],
  ])("ignores %s", (_what, raw) => {
    expect(parseAggTradeFrame(raw)).toBeNull();
  });
});

describe("REST rows", () => {
  const row = { a: 7, p: "100.00000000", q: "2.00000000", f: 10, l: 11, T: 1000, m: true, M: true };

  it("reads aggTrades rows in id order with the symbol asked for", () => {
    expect(parseAggTradeRows([row, { ...row, a: 9 }], "ETHUSDT")).toEqual([
      { symbol: "ETHUSDT", id: 7, price: 10_000_000_000, quantity: 200_000_000, firstTradeId: 10, lastTradeId: 11, time: 1000, buyerIsMaker: true, audit: false },
      expect.objectContaining({ id: 9 }),
    ]);
  });

  it("refuses a body that is not a list of well-formed rows in increasing id order", () => {
    expect(() => parseAggTradeRows({ code: -1121, msg: "Invalid symbol." }, "X")).toThrow(WireError);
    expect(() => parseAggTradeRows([{ ...row, q: "x" }], "X")).toThrow(/malformed row/);
    expect(() => parseAggTradeRows([row, row], "X")).toThrow(/ids must increase/);
  });

  it("reads kline rows in Binance's field order", () => {
    const kline = [1000, "1.00000000", "2.00000000", "0.50000000", "1.50000000", "3.00000000", 1999, "4.1234567800000001", 5, "1.00000000", "1.50000000", "0"];
    expect(parseKlineRows([kline])).toEqual([
      {
        openTime: 1000,
        open: 100_000_000,
        high: 200_000_000,
        low: 50_000_000,
        close: 150_000_000,
        volume: 300_000_000,
        quoteVolume: 41_234_567_800_000_001n,
        trades: 5,
        takerBuyVolume: 100_000_000,
      },
    ]);
    expect(() => parseKlineRows([kline.slice(0, 5)])).toThrow(/malformed row/);
    expect(() => parseKlineRows("nope")).toThrow(WireError);
  });
});
