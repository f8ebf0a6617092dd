import { describe, expect, it } from "vitest";
import { parseAggTradeFrame, parseAggTradeRows, parseKlineRows, parseServerTime, UnsupportedValueError, WireError } from "../src/binance/wire.ts";

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

  it.each([
    ["price", { p: "90071992.54740992" }, /BTCUSDT aggregate trade 2345678901: price 90071992\.54740992 is too large/],
    ["quantity", { q: "100000000.00000000" }, /BTCUSDT aggregate trade 2345678901: quantity 100000000\.00000000 is too large/],
  ])("refuses a %s of 2^53 units of 1e-8 or more, naming the symbol and the value", (_field, change, message) => {
    const raw = JSON.stringify({ stream: "btcusdt@aggTrade", data: { ...event, ...change } });
    expect(() => parseAggTradeFrame(raw)).toThrow(UnsupportedValueError);
    expect(() => parseAggTradeFrame(raw)).toThrow(message);
  });

  it("reads the largest value held exactly", () => {
    expect(parseAggTradeFrame(JSON.stringify({ ...event, q: "90071992.54740991" }))).toMatchObject({ quantity: Number.MAX_SAFE_INTEGER });
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

  it("refuses a row whose price is too large to hold exactly, naming symbol and value", () => {
    expect(() => parseAggTradeRows([{ ...row, p: "123456789.00000000" }], "SHIBUSDT")).toThrow(UnsupportedValueError);
    expect(() => parseAggTradeRows([{ ...row, p: "123456789.00000000" }], "SHIBUSDT")).toThrow(/SHIBUSDT aggregate trade 7: price 123456789\.00000000/);
  });

  it("reads kline rows in Binance's field order", () => {
    const kline = [1000, "1.00000000", "2.00000000", "0.50000000", "1.50000000", "3.00000000", 1999, "4.1234567800000001", 5, "1.00000000", "1.50000000", "0"];
    expect(parseKlineRows([kline], "BTCUSDT")).toEqual([
      {
        openTime: 1000,
        open: 100_000_000,
        high: 200_000_000,
        low: 50_000_000,
        close: 150_000_000,
        volume: 300_000_000n,
        quoteVolume: 41_234_567_800_000_001n,
        trades: 5,
        takerBuyVolume: 100_000_000n,
      },
    ]);
    expect(() => parseKlineRows([kline.slice(0, 5)], "BTCUSDT")).toThrow(/malformed row/);
    expect(() => parseKlineRows("nope", "BTCUSDT")).toThrow(WireError);
  });

  it("reads kline volumes past 2^53 units exactly, and refuses a price that large", () => {
    const kline = [1000, "1.00000000", "2.00000000", "0.50000000", "1.50000000", "123456789012.12345678", 1999, "4.5", 5, "100000000.00000001", "1.5", "0"];
    expect(parseKlineRows([kline], "BTCUSDT")[0]).toMatchObject({ volume: 12_345_678_901_212_345_678n, takerBuyVolume: 10_000_000_000_000_001n });
    const pricey = kline.map((field, i) => (i === 2 ? "100000000.00000000" : field));
    expect(() => parseKlineRows([pricey], "BTCUSDT")).toThrow(/BTCUSDT kline 1000: high 100000000\.00000000 is too large/);
  });
});

describe("server time", () => {
  it("reads serverTime in epoch ms and refuses anything else", () => {
    expect(parseServerTime({ serverTime: 1_700_000_000_123 })).toBe(1_700_000_000_123);
    for (const bad of [{}, { serverTime: "1700000000123" }, { serverTime: 1.5 }, null, []]) expect(() => parseServerTime(bad)).toThrow(WireError);
  });
});
