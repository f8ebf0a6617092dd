import { scaledDecimal } from "./format.ts";
import type { Tape } from "./tape.ts";

/** Kline intervals served, with their length; all align to UTC epoch multiples (shifted by `timeZone`). */
export const KLINE_INTERVALS: Readonly<Record<string, number>> = {
  "1s": 1_000,
  "1m": 60_000,
  "3m": 3 * 60_000,
  "5m": 5 * 60_000,
  "15m": 15 * 60_000,
  "30m": 30 * 60_000,
  "1h": 3_600_000,
  "2h": 2 * 3_600_000,
  "4h": 4 * 3_600_000,
  "6h": 6 * 3_600_000,
  "8h": 8 * 3_600_000,
  "12h": 12 * 3_600_000,
  "1d": 24 * 3_600_000,
};

/** Whether an interval without trades is served as a flat kline (Binance generates them) or left out. */
export type EmptyKlines = "include" | "omit";

export interface Kline {
  openTime: number;
  closeTime: number;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
  quoteVolume: string;
  /** Raw trades: Σ(l − f + 1). */
  trades: number;
  takerBuyBaseVolume: string;
  takerBuyQuoteVolume: string;
  /** First and last raw trade id, -1 for a kline without trades. */
  firstTradeId: number;
  lastTradeId: number;
}

export interface KlineQuery {
  intervalMs: number;
  /** `timeZone` offset in ms (UTC+8 → 8 h); open times align to local multiples of the interval. */
  offsetMs: number;
  startTime?: number;
  endTime?: number;
  limit: number;
  /** The simulated now: trades after it do not exist yet; the kline containing it is the open one. */
  clock: number;
  emptyKlines: EmptyKlines;
}

export function klineOpenTime(timeMs: number, intervalMs: number, offsetMs = 0): number {
  return Math.floor((timeMs + offsetMs) / intervalMs) * intervalMs - offsetMs;
}

/**
 * Klines as `GET /api/v3/klines` serves them: open times in [startTime, endTime] (and not after the open kline),
 * oldest first; without startTime the newest `limit` ones. Sums are exact integers of lots and tick·lots.
 */
export function queryKlines(tape: Tape, query: KlineQuery): Kline[] {
  const { intervalMs, offsetMs, limit, clock } = query;
  const align = (t: number) => klineOpenTime(t, intervalMs, offsetMs);
  const visibleEnd = tape.firstIndexAfter(clock);
  const lastOpen = Math.min(align(clock), query.endTime === undefined ? Infinity : query.endTime);
  const firstValid = firstValidAtOrAfter(tape, 0, visibleEnd);
  if (firstValid < 0 || limit <= 0) return [];
  const earliestOpen = align(tape.timeAt(firstValid));
  let firstOpen: number;
  if (query.startTime !== undefined) {
    firstOpen = Math.max(align(query.startTime - 1) + intervalMs, earliestOpen);
  } else if (query.emptyKlines === "include") {
    firstOpen = Math.max(align(lastOpen) - (limit - 1) * intervalMs, earliestOpen);
  } else {
    firstOpen = newestTradedOpens(tape, align, align(lastOpen) + intervalMs, limit, visibleEnd);
  }
  const klines: Kline[] = [];
  let i = tape.firstIndexAtOrAfter(firstOpen);
  const before = tape.lastValidBefore(i);
  let previousClose = before >= 0 ? tape.priceTicksAt(before) : null;
  let open = firstOpen;
  while (klines.length < limit && open <= lastOpen) {
    const end = Math.min(tape.firstIndexAtOrAfter(open + intervalMs), visibleEnd);
    const kline = buildKline(tape, open, intervalMs, i, end, previousClose);
    if (kline && (kline.trades > 0 || query.emptyKlines === "include")) {
      klines.push(kline.kline);
      previousClose = kline.closeTicks;
    }
    if (kline === null || (kline.trades === 0 && query.emptyKlines === "omit")) {
      // No trades here: jump straight to the interval of the next trade instead of stepping through empty ones.
      const next = firstValidAtOrAfter(tape, end, visibleEnd);
      if (next < 0) break;
      open = Math.max(open + intervalMs, align(tape.timeAt(next)));
      i = tape.firstIndexAtOrAfter(open);
      continue;
    }
    i = end;
    open += intervalMs;
  }
  return klines;
}

/** Open time of the oldest of the newest `limit` intervals (before `endOpen`) that hold a valid trade. */
function newestTradedOpens(tape: Tape, align: (t: number) => number, endOpen: number, limit: number, visibleEnd: number): number {
  let seen = 0;
  let oldest = endOpen;
  for (let i = Math.min(tape.firstIndexAtOrAfter(endOpen), visibleEnd) - 1; i >= 0; i--) {
    if (tape.isAuditAt(i)) continue;
    const open = align(tape.timeAt(i));
    if (open < oldest) {
      oldest = open;
      if (++seen === limit) break;
    }
  }
  return oldest;
}

function firstValidAtOrAfter(tape: Tape, from: number, end: number): number {
  for (let i = from; i < end; i++) if (!tape.isAuditAt(i)) return i;
  return -1;
}

/**
 * The kline of records [from, to) opening at `openTime`; a flat kline at the previous close when none is a valid
 * trade; null when there is neither a trade nor a previous close.
 */
export function buildKline(
  tape: Tape,
  openTime: number,
  intervalMs: number,
  from: number,
  to: number,
  previousClose: number | null,
): { kline: Kline; closeTicks: number; trades: number } | null {
  const { priceDecimals, qtyDecimals } = tape.spec;
  let open = -1;
  let high = -Infinity;
  let low = Infinity;
  let close = -1;
  let lots = 0;
  let takerLots = 0;
  let quote = 0n;
  let takerQuote = 0n;
  let trades = 0;
  let firstTradeId = -1;
  let lastTradeId = -1;
  for (let i = from; i < to; i++) {
    if (tape.isAuditAt(i)) continue;
    const price = tape.priceTicksAt(i);
    const size = tape.lotsAt(i);
    if (open < 0) {
      open = price;
      firstTradeId = tape.firstTradeIdAt(i);
    }
    if (price > high) high = price;
    if (price < low) low = price;
    close = price;
    lastTradeId = tape.lastTradeIdAt(i);
    lots += size;
    const notional = BigInt(price) * BigInt(size);
    quote += notional;
    trades += tape.rawTradesAt(i);
    if (!tape.buyerIsMakerAt(i)) {
      takerLots += size;
      takerQuote += notional;
    }
  }
  if (open < 0) {
    if (previousClose === null) return null;
    open = high = low = close = previousClose;
  }
  const price = (ticks: number) => scaledDecimal(ticks, priceDecimals);
  const quoteDecimals = priceDecimals + qtyDecimals;
  return {
    closeTicks: close,
    trades,
    kline: {
      openTime,
      closeTime: openTime + intervalMs - 1,
      open: price(open),
      high: price(high),
      low: price(low),
      close: price(close),
      volume: scaledDecimal(lots, qtyDecimals),
      quoteVolume: scaledDecimal(quote, quoteDecimals),
      trades,
      takerBuyBaseVolume: scaledDecimal(takerLots, qtyDecimals),
      takerBuyQuoteVolume: scaledDecimal(takerQuote, quoteDecimals),
      firstTradeId,
      lastTradeId,
    },
  };
}

/** The REST array, in Binance's field order. */
export function klineRow(k: Kline): (number | string)[] {
  return [k.openTime, k.open, k.high, k.low, k.close, k.volume, k.closeTime, k.quoteVolume, k.trades, k.takerBuyBaseVolume, k.takerBuyQuoteVolume, "0"];
}

/** The `<symbol>@kline_<interval>` event; `closed` is the `x` flag. */
export function klineEventJson(symbol: string, interval: string, k: Kline, closed: boolean, eventMs: number): string {
  return JSON.stringify({
    e: "kline",
    E: eventMs,
    s: symbol,
    k: {
      t: k.openTime,
      T: k.closeTime,
      s: symbol,
      i: interval,
      f: k.firstTradeId,
      L: k.lastTradeId,
      o: k.open,
      c: k.close,
      h: k.high,
      l: k.low,
      v: k.volume,
      n: k.trades,
      x: closed,
      q: k.quoteVolume,
      V: k.takerBuyBaseVolume,
      Q: k.takerBuyQuoteVolume,
      B: "0",
    },
  });
}
