import { Decimal } from "decimal.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BAR_MS, type ClosedBar } from "@gapfill/contracts";
import { BarAggregator } from "../src/aggregate.ts";
import { parseKlineRows, type Kline, type Trade } from "../src/binance/wire.ts";

const T0 = 1_700_000_010_000 - (1_700_000_010_000 % BAR_MS);
const Exact = Decimal.clone({ precision: 80 });

function trade(id: number, time: number, price: string, quantity: string, extra: Partial<Trade> = {}): Trade {
  const units = (text: string) => Number(new Exact(text).times(1e8).toFixed(0));
  return {
    symbol: "BTCUSDT",
    id,
    price: units(price),
    quantity: units(quantity),
    firstTradeId: id * 10,
    lastTradeId: id * 10,
    time,
    buyerIsMaker: false,
    audit: false,
    ...extra,
  };
}

function audit(id: number, time: number): Trade {
  return { ...trade(id, time, "0", "0"), firstTradeId: -1, lastTradeId: -1, audit: true };
}

function run(trades: Trade[], closeThrough: number, start = T0, previousClose: number | null = null): readonly ClosedBar[] {
  const aggregator = new BarAggregator("BTCUSDT", start, previousClose);
  for (const t of trades) aggregator.addTrade(t);
  aggregator.closeThrough(closeThrough);
  return aggregator.takeClosed();
}

describe("bar aggregation from trades", () => {
  it("puts a trade at k·15000 − 1 in the closing bar and one at k·15000 in the next, closing the first at once", () => {
    const aggregator = new BarAggregator("BTCUSDT", T0, null);
    aggregator.addTrade(trade(1, T0 + 5, "100", "1"));
    aggregator.addTrade(trade(2, T0 + BAR_MS - 1, "101", "1"));
    expect(aggregator.takeClosed()).toEqual([]);
    aggregator.addTrade(trade(3, T0 + BAR_MS, "102", "1"));
    const [bar] = aggregator.takeClosed();
    expect(bar).toMatchObject({ ts: T0, open: 100, close: 101, high: 101, low: 100, first_agg_id: 1, last_agg_id: 2 });
    expect(aggregator.forming()).toMatchObject({ ts: T0 + BAR_MS, open: 102, as_of: T0 + BAR_MS, first_agg_id: 3 });
  });

  it("fills intervals without trades with flat bars at the previous close", () => {
    const bars = run([trade(1, T0 + 1, "100", "1"), trade(2, T0 + 2, "99.5", "1"), trade(3, T0 + 3 * BAR_MS + 7, "98", "2")], T0 + 4 * BAR_MS);
    expect(bars.map((b) => [b.ts, b.open, b.close, b.volume, b.trades, b.first_agg_id])).toEqual([
      [T0, 100, 99.5, 2, 2, 1],
      [T0 + BAR_MS, 99.5, 99.5, 0, 0, null],
      [T0 + 2 * BAR_MS, 99.5, 99.5, 0, 0, null],
      [T0 + 3 * BAR_MS, 98, 98, 2, 1, 3],
    ]);
  });

  it("closes quiet bars when told that time has passed, never before their end", () => {
    const aggregator = new BarAggregator("BTCUSDT", T0, 100e8);
    aggregator.closeThrough(T0 + BAR_MS - 1);
    expect(aggregator.takeClosed()).toEqual([]);
    aggregator.closeThrough(T0 + BAR_MS);
    expect(aggregator.takeClosed()).toEqual([
      { symbol: "BTCUSDT", ts: T0, open: 100, high: 100, low: 100, close: 100, volume: 0, quote_volume: 0, trades: 0, taker_buy_volume: 0, first_agg_id: null, last_agg_id: null },
    ]);
  });

  it("starts a series without a previous close at its first traded bar", () => {
    expect(run([trade(5, T0 + 2 * BAR_MS + 1, "10", "1")], T0 + 3 * BAR_MS).map((b) => b.ts)).toEqual([T0 + 2 * BAR_MS]);
  });

  it("ignores audit records entirely", () => {
    const bars = run([trade(1, T0 + 1, "100", "1"), audit(2, T0 + 2), trade(3, T0 + 3, "100.5", "1")], T0 + BAR_MS);
    expect(bars[0]).toMatchObject({ low: 100, trades: 2, first_agg_id: 1, last_agg_id: 3 });
    expect(run([audit(1, T0 + 1)], T0 + BAR_MS)).toEqual([]);
  });

  it("counts raw trades and taker-buy volume like Binance", () => {
    const bars = run(
      [
        trade(1, T0 + 1, "100", "0.5", { firstTradeId: 10, lastTradeId: 14, buyerIsMaker: true }),
        trade(2, T0 + 2, "100", "0.25", { firstTradeId: 15, lastTradeId: 15, buyerIsMaker: false }),
      ],
      T0 + BAR_MS,
    );
    expect(bars[0]).toMatchObject({ trades: 6, volume: 0.75, taker_buy_volume: 0.25, quote_volume: 75 });
  });

  it("sums quantities whose float sum drifts exactly", () => {
    const quantities = ["0.1", "0.2", "0.00001"];
    const floatSum = quantities.reduce((sum, q) => sum + Number(q), 0);
    const bars = run(quantities.map((q, i) => trade(i + 1, T0 + i, "0.1", q)), T0 + BAR_MS);
    expect(floatSum).not.toBe(0.30001);
    expect(bars[0]!.volume).toBe(0.30001);
    expect(bars[0]!.quote_volume).toBe(0.030001);
  });

  it("hands out one shared empty list while no bar has closed", () => {
    const aggregator = new BarAggregator("BTCUSDT", T0, null);
    aggregator.addTrade(trade(1, T0 + 1, "1", "1"));
    const none = aggregator.takeClosed();
    expect(none).toEqual([]);
    aggregator.addTrade(trade(2, T0 + 2, "1", "1"));
    expect(aggregator.takeClosed()).toBe(none);
  });

  it("reports a trade for a bar already closed as late and leaves the bars alone", () => {
    const aggregator = new BarAggregator("BTCUSDT", T0, null);
    aggregator.addTrade(trade(2, T0 + BAR_MS + 1, "1", "1"));
    expect(aggregator.addTrade(trade(1, T0 + 1, "2", "1"))).toBe("late");
    expect(aggregator.forming()).toMatchObject({ ts: T0 + BAR_MS, open: 1, trades: 1 });
  });
});

/** A random tape over `bars` bars: 8-decimal prices on a 0.01 tick, quantities on a 0.00001 lot, some audits. */
const tapeArbitrary = (bars: number) =>
  fc
    .array(
      fc.record({
        offset: fc.oneof(fc.integer({ min: 0, max: bars * BAR_MS - 1 }), fc.constantFrom(BAR_MS - 1, BAR_MS, 2 * BAR_MS - 1, 2 * BAR_MS)),
        ticks: fc.integer({ min: 1, max: 12_000_000 }),
        lots: fc.integer({ min: 1, max: 5_000_000 }),
        raw: fc.integer({ min: 1, max: 20 }),
        buyerIsMaker: fc.boolean(),
        audit: fc.integer({ min: 0, max: 30 }).map((n) => n === 0),
      }),
      { minLength: 1, maxLength: 400 },
    )
    .map((rows) => {
      rows.sort((a, b) => a.offset - b.offset);
      let rawId = 1000;
      return rows.map((row, i): Trade => {
        if (row.audit) return audit(500 + i, T0 + row.offset);
        const t: Trade = {
          symbol: "BTCUSDT",
          id: 500 + i,
          price: row.ticks * 1e6,
          quantity: row.lots * 1000,
          firstTradeId: rawId,
          lastTradeId: rawId + row.raw - 1,
          time: T0 + row.offset,
          buyerIsMaker: row.buyerIsMaker,
          audit: false,
        };
        rawId += row.raw;
        return t;
      });
    });

const decimal = (units: number) => new Exact(units).div(1e8);

/** 1 s kline rows as Binance lays them out, built from trades with decimal arithmetic. */
function klineRows(trades: Trade[], withEmptySeconds: boolean, from: number, to: number): unknown[] {
  const rows: unknown[] = [];
  let previousClose: Decimal | null = null;
  for (let second = from; second < to; second += 1000) {
    const inSecond = trades.filter((t) => !t.audit && t.time >= second && t.time < second + 1000);
    if (inSecond.length === 0) {
      if (withEmptySeconds && previousClose) {
        const p = previousClose.toFixed(8);
        rows.push([second, p, p, p, p, "0.00000000", second + 999, "0.00000000", 0, "0.00000000", "0.00000000", "0"]);
      }
      continue;
    }
    const prices = inSecond.map((t) => decimal(t.price));
    const volume = inSecond.reduce((sum, t) => sum.plus(decimal(t.quantity)), new Exact(0));
    const quote = inSecond.reduce((sum, t) => sum.plus(decimal(t.price).times(decimal(t.quantity))), new Exact(0));
    const takerBuy = inSecond.filter((t) => !t.buyerIsMaker).reduce((sum, t) => sum.plus(decimal(t.quantity)), new Exact(0));
    const count = inSecond.reduce((n, t) => n + t.lastTradeId - t.firstTradeId + 1, 0);
    previousClose = prices.at(-1)!;
    rows.push([
      second,
      prices[0]!.toFixed(8),
      Exact.max(...prices).toFixed(8),
      Exact.min(...prices).toFixed(8),
      previousClose.toFixed(8),
      volume.toFixed(8),
      second + 999,
      quote.toFixed(16),
      count,
      takerBuy.toFixed(8),
      "0",
      "0",
    ]);
  }
  return rows;
}

/** Independent decimal reference for the bars of a tape (what the simulator's ground truth computes). */
function referenceBars(trades: Trade[], bars: number): ClosedBar[] {
  const out: ClosedBar[] = [];
  let previousClose: Decimal | null = null;
  for (let ts = T0; ts < T0 + bars * BAR_MS; ts += BAR_MS) {
    const inBar = trades.filter((t) => !t.audit && t.time >= ts && t.time < ts + BAR_MS);
    if (inBar.length === 0) {
      if (previousClose) {
        const p = previousClose.toNumber();
        out.push({ symbol: "BTCUSDT", ts, open: p, high: p, low: p, close: p, volume: 0, quote_volume: 0, trades: 0, taker_buy_volume: 0, first_agg_id: null, last_agg_id: null });
      }
      continue;
    }
    const prices = inBar.map((t) => decimal(t.price));
    previousClose = prices.at(-1)!;
    out.push({
      symbol: "BTCUSDT",
      ts,
      open: prices[0]!.toNumber(),
      high: Exact.max(...prices).toNumber(),
      low: Exact.min(...prices).toNumber(),
      close: previousClose.toNumber(),
      volume: Number(inBar.reduce((s, t) => s.plus(decimal(t.quantity)), new Exact(0)).toString()),
      quote_volume: Number(inBar.reduce((s, t) => s.plus(decimal(t.price).times(decimal(t.quantity))), new Exact(0)).toString()),
      trades: inBar.reduce((n, t) => n + t.lastTradeId - t.firstTradeId + 1, 0),
      taker_buy_volume: Number(inBar.filter((t) => !t.buyerIsMaker).reduce((s, t) => s.plus(decimal(t.quantity)), new Exact(0)).toString()),
      first_agg_id: inBar[0]!.id,
      last_agg_id: inBar.at(-1)!.id,
    });
  }
  return out;
}

/** Trades whose quantities add up to far more than 2^53 units of 1e-8 (90,071,992.54740992) within one bar. */
const hugeVolumeArbitrary = fc
  .array(fc.record({ lots: fc.integer({ min: 2 ** 50, max: Number.MAX_SAFE_INTEGER }), buyerIsMaker: fc.boolean() }), { minLength: 2, maxLength: 60 })
  .map((rows) =>
    rows.map(({ lots, buyerIsMaker }, i): Trade => ({
      symbol: "BTCUSDT",
      id: 1 + i,
      price: 1 + (i % 7),
      quantity: lots,
      firstTradeId: 1 + i,
      lastTradeId: 1 + i,
      time: T0 + i * 100,
      buyerIsMaker,
      audit: false,
    })),
  );

describe("volumes past 2^53 units of 1e-8", () => {
  it("sums volume and taker-buy volume exactly from trades", () => {
    fc.assert(
      fc.property(hugeVolumeArbitrary, (trades) => {
        expect(run(trades, T0 + BAR_MS)).toEqual(referenceBars(trades, 1));
      }),
    );
  });

  it("sums them exactly from klines too", () => {
    fc.assert(
      fc.property(hugeVolumeArbitrary, (trades) => {
        const aggregator = new BarAggregator("BTCUSDT", T0, null);
        for (const kline of parseKlineRows(klineRows(trades, false, T0, T0 + BAR_MS), "BTCUSDT")) aggregator.addKline(kline);
        aggregator.closeThrough(T0 + BAR_MS);
        expect(aggregator.takeClosed()).toEqual(referenceBars(trades, 1).map((bar) => ({ ...bar, first_agg_id: null, last_agg_id: null })));
      }),
    );
  });
});

describe("trades and 1 s klines give the same bars", () => {
  const BARS = 6;
  it("equals a decimal reference when built from trades", () => {
    fc.assert(
      fc.property(tapeArbitrary(BARS), (trades) => {
        expect(run(trades, T0 + BARS * BAR_MS)).toEqual(referenceBars(trades, BARS));
      }),
    );
  });

  it("equals the trade-built bars (agg ids aside) from klines, whether empty seconds are sent or left out", () => {
    fc.assert(
      fc.property(tapeArbitrary(BARS), fc.boolean(), (trades, withEmptySeconds) => {
        const fromTrades = run(trades, T0 + BARS * BAR_MS);
        const aggregator = new BarAggregator("BTCUSDT", T0, null);
        const klines: Kline[] = parseKlineRows(klineRows(trades, withEmptySeconds, T0, T0 + BARS * BAR_MS), "BTCUSDT");
        for (const kline of klines) aggregator.addKline(kline);
        aggregator.closeThrough(T0 + BARS * BAR_MS);
        expect(aggregator.takeClosed()).toEqual(fromTrades.map((bar) => ({ ...bar, first_agg_id: null, last_agg_id: null })));
      }),
    );
  });

  it("continues a kline-built history with trade-built bars at a bar boundary", () => {
    fc.assert(
      fc.property(tapeArbitrary(BARS), fc.integer({ min: 1, max: BARS - 1 }), (trades, handoverBars) => {
        const handover = T0 + handoverBars * BAR_MS;
        const aggregator = new BarAggregator("BTCUSDT", T0, null);
        for (const kline of parseKlineRows(klineRows(trades, true, T0, handover), "BTCUSDT")) aggregator.addKline(kline);
        aggregator.closeThrough(handover);
        for (const t of trades.filter((t) => t.time >= handover)) aggregator.addTrade(t);
        aggregator.closeThrough(T0 + BARS * BAR_MS);
        const expected = referenceBars(trades, BARS).map((bar) => (bar.ts < handover ? { ...bar, first_agg_id: null, last_agg_id: null } : bar));
        expect(aggregator.takeClosed()).toEqual(expected);
      }),
    );
  });
});
