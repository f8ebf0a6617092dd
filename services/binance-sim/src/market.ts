/**
 * What the simulator knows about a symbol: its assets, its price tick and quantity lot (as decimal exponents, so
 * prices and quantities are integers of ticks and lots everywhere in the tape), and where its price starts.
 */
export interface MarketSpec {
  symbol: string;
  baseAsset: string;
  quoteAsset: string;
  /** Price tick = 10^-priceDecimals (BTCUSDT: 2, a tick of 0.01). */
  priceDecimals: number;
  /** Quantity lot = 10^-qtyDecimals (BTCUSDT: 5, a lot of 0.00001). */
  qtyDecimals: number;
  /** Typical price before the seed moves it, in quote units. */
  referencePrice: number;
  /** Typical trade size in lots (the median of the size distribution). */
  medianLots: number;
  /** Spread of one price step, in ticks. */
  stepTicks: number;
}

/** Binance renders prices and quantities with 8 decimals ("37000.12000000"). */
export const WIRE_DECIMALS = 8;

const KNOWN: Record<string, Omit<MarketSpec, "symbol">> = {
  BTCUSDT: { baseAsset: "BTC", quoteAsset: "USDT", priceDecimals: 2, qtyDecimals: 5, referencePrice: 67_000, medianLots: 300, stepTicks: 30 },
  ETHUSDT: { baseAsset: "ETH", quoteAsset: "USDT", priceDecimals: 2, qtyDecimals: 4, referencePrice: 3_400, medianLots: 400, stepTicks: 3 },
  BNBUSDT: { baseAsset: "BNB", quoteAsset: "USDT", priceDecimals: 2, qtyDecimals: 3, referencePrice: 580, medianLots: 300, stepTicks: 2 },
  SOLUSDT: { baseAsset: "SOL", quoteAsset: "USDT", priceDecimals: 2, qtyDecimals: 3, referencePrice: 150, medianLots: 2_000, stepTicks: 1 },
};

const QUOTES = ["USDT", "USDC", "FDUSD", "BTC", "ETH", "BNB", "EUR", "TRY"];

/** The spec of a known symbol, or a plausible one for any other symbol (its quote asset read from the suffix). */
export function marketSpec(symbol: string): MarketSpec {
  const known = KNOWN[symbol];
  if (known) return { symbol, ...known };
  const quoteAsset = QUOTES.find((quote) => symbol.endsWith(quote) && symbol.length > quote.length) ?? "USDT";
  return {
    symbol,
    baseAsset: symbol.slice(0, symbol.length - quoteAsset.length) || symbol,
    quoteAsset,
    priceDecimals: 2,
    qtyDecimals: 3,
    referencePrice: 100,
    medianLots: 1_000,
    stepTicks: 1,
  };
}

/** `10^-decimals` written with Binance's 8 decimals, e.g. 2 → "0.01000000". */
export function unitString(decimals: number): string {
  return decimals === 0 ? "1.00000000" : `0.${"0".repeat(decimals - 1)}1${"0".repeat(WIRE_DECIMALS - decimals)}`;
}
