/**
 * The one place that knows Binance's wire formats: REST aggTrade rows, WebSocket aggTrade frames (plain and
 * combined-stream wrapped), 1 s kline rows and the server time, turned into normalized records with exact scaled
 * integers.
 * Nothing downstream sees a Binance field name.
 */
import { isBeyondScaled, parseQuoteScaled, parseScaled, parseScaledBig } from "../exact.ts";

/** One aggregate trade. Prices and quantities are integers of 1e-8 units (see exact.ts). */
export interface Trade {
  symbol: string;
  /** Aggregate trade id (`a`): the sequence that continuity is tracked on. */
  id: number;
  price: number;
  quantity: number;
  /** Raw trade ids covered (`f`..`l`); `trades` of a bar counts these. */
  firstTradeId: number;
  lastTradeId: number;
  /** Trade time (`T`), epoch ms. */
  time: number;
  /** `m`: the buyer was the maker, so the taker sold. Taker-buy volume sums trades where this is false. */
  buyerIsMaker: boolean;
  /**
   * An invalid audit record (`p="0"`, `q="0"`, `f=-1`, `l=-1`). It keeps its id's place in the sequence, so a
   * repair does not look for it again, but it is not a trade: the aggregator ignores it.
   */
  audit: boolean;
}

/** One closed 1 s kline. Klines carry no aggregate ids. */
export interface Kline {
  openTime: number;
  open: number;
  high: number;
  low: number;
  close: number;
  /** Volumes in 1e-8 units as BigInt: a second's sum may pass 2^53 units where no single quantity does. */
  volume: bigint;
  /** Quote volume in 1e-16 units (it may carry up to 16 decimals to stay exact). */
  quoteVolume: bigint;
  /** Raw trades in the second, as Binance counts them. */
  trades: number;
  takerBuyVolume: bigint;
}

/** An answer that does not have the shape Binance documents. */
export class WireError extends Error {
  override name = "WireError";
}

/**
 * A well-formed price or quantity of 2^53 units of 1e-8 or more (90,071,992.54740992): it cannot be held exactly,
 * and leaving it out would leave the bar wrong, so the feed cannot go on.
 */
export class UnsupportedValueError extends Error {
  override name = "UnsupportedValueError";
}

/** Throws UnsupportedValueError when `text` is a value parseScaled refused only for its size. */
function refuseIfBeyondScale(symbol: string, field: string, text: unknown, where: string): void {
  if (typeof text === "string" && isBeyondScaled(text)) {
    throw new UnsupportedValueError(
      `${symbol} ${where}: ${field} ${text} is too large to hold exactly (at most 90071992.54740991 is supported)`,
    );
  }
}

/** The stream name of a symbol's aggTrade stream on Binance (lower-case). */
export function aggTradeStreamName(symbol: string): string {
  return `${symbol.toLowerCase()}@aggTrade`;
}

function isId(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= -1;
}

/** Fields `a p q f l T m` of a REST row or a WS event → Trade, or null when any is missing or malformed. */
function tradeFrom(record: Record<string, unknown>, symbol: string): Trade | null {
  const { a, p, q, f, l, T, m } = record;
  if (!isId(a) || a < 0 || !isId(f) || !isId(l) || typeof T !== "number" || !Number.isSafeInteger(T)) return null;
  if (typeof p !== "string" || typeof q !== "string" || typeof m !== "boolean") return null;
  const price = parseScaled(p);
  const quantity = parseScaled(q);
  if (Number.isNaN(price) || Number.isNaN(quantity)) {
    refuseIfBeyondScale(symbol, "price", p, `aggregate trade ${a}`);
    refuseIfBeyondScale(symbol, "quantity", q, `aggregate trade ${a}`);
    return null;
  }
  const audit = f < 0 || l < 0 || price === 0 || quantity === 0;
  if (!audit && l < f) return null;
  return { symbol, id: a, price, quantity, firstTradeId: f, lastTradeId: l, time: T, buyerIsMaker: m, audit };
}

/**
 * A WebSocket text frame → the aggregate trade it carries, or null when it is not a well-formed aggTrade event
 * (another event type, a subscription reply, or garbage). Throws UnsupportedValueError for a price or quantity
 * too large to hold exactly.
 */
export function parseAggTradeFrame(raw: string): Trade | null {
  let message: unknown;
  try {
    message = JSON.parse(raw);
  } catch {
    return null;
  }
  if (typeof message !== "object" || message === null) return null;
  const wrapped = (message as { data?: unknown }).data;
  const event = (wrapped !== undefined ? wrapped : message) as Record<string, unknown>;
  if (typeof event !== "object" || event === null || event.e !== "aggTrade" || typeof event.s !== "string") return null;
  return tradeFrom(event, event.s);
}

/**
 * The body of `GET /api/v3/aggTrades?symbol=<symbol>` → trades in id order. Throws WireError on anything else,
 * UnsupportedValueError for a price or quantity too large to hold exactly.
 */
export function parseAggTradeRows(body: unknown, symbol: string): Trade[] {
  if (!Array.isArray(body)) throw new WireError(`aggTrades ${symbol}: expected a JSON array, got ${describe(body)}`);
  const trades: Trade[] = [];
  for (const row of body) {
    const trade = typeof row === "object" && row !== null ? tradeFrom(row as Record<string, unknown>, symbol) : null;
    if (!trade) throw new WireError(`aggTrades ${symbol}: malformed row ${JSON.stringify(row)}`);
    const previous = trades.at(-1);
    if (previous && trade.id <= previous.id) {
      throw new WireError(`aggTrades ${symbol}: ids must increase, got ${trade.id} after ${previous.id}`);
    }
    trades.push(trade);
  }
  return trades;
}

/**
 * The body of `GET /api/v3/klines` for `symbol` → klines. Row layout: [openTime, open, high, low, close, volume,
 * closeTime, quoteVolume, trades, takerBuyBase, takerBuyQuote, ignore]. Throws WireError on anything else,
 * UnsupportedValueError for a price too large to hold exactly.
 */
export function parseKlineRows(body: unknown, symbol: string): Kline[] {
  if (!Array.isArray(body)) throw new WireError(`klines ${symbol}: expected a JSON array, got ${describe(body)}`);
  return body.map((row: unknown) => {
    const kline = Array.isArray(row) ? klineFrom(row, symbol) : null;
    if (!kline) throw new WireError(`klines ${symbol}: malformed row ${JSON.stringify(row)}`);
    return kline;
  });
}

function klineFrom(row: unknown[], symbol: string): Kline | null {
  const [openTime, open, high, low, close, volume, , quoteVolume, trades, takerBuyVolume] = row;
  if (typeof openTime !== "number" || !Number.isSafeInteger(openTime)) return null;
  if (typeof trades !== "number" || !Number.isSafeInteger(trades) || trades < 0) return null;
  const prices = [open, high, low, close];
  const scaled = prices.map((v) => (typeof v === "string" ? parseScaled(v) : NaN));
  if (scaled.some(Number.isNaN)) {
    for (const [i, field] of ["open", "high", "low", "close"].entries()) refuseIfBeyondScale(symbol, field, prices[i], `kline ${openTime}`);
    return null;
  }
  const v = typeof volume === "string" ? parseScaledBig(volume) : null;
  const tb = typeof takerBuyVolume === "string" ? parseScaledBig(takerBuyVolume) : null;
  const quote = typeof quoteVolume === "string" ? parseQuoteScaled(quoteVolume) : null;
  if (v === null || tb === null || quote === null) return null;
  const [o, h, l, c] = scaled as [number, number, number, number];
  return { openTime, open: o, high: h, low: l, close: c, volume: v, quoteVolume: quote, trades, takerBuyVolume: tb };
}

/** The body of `GET /api/v3/time` → Binance's clock in epoch ms. Throws WireError on anything else. */
export function parseServerTime(body: unknown): number {
  const serverTime = typeof body === "object" && body !== null ? (body as { serverTime?: unknown }).serverTime : undefined;
  if (typeof serverTime !== "number" || !Number.isSafeInteger(serverTime)) {
    throw new WireError(`time: expected {"serverTime": <epoch ms>}, got ${describe(body)}`);
  }
  return serverTime;
}

function describe(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
