import { BAR_MS, EMBEDDING_DIM, embeddingWindow, FEATURE_LAYOUT, type ClosedBar, type FeatureName } from "@gapfill/contracts";

/** A window featurize cannot use: empty, mixed symbols, or bars that are not consecutive oldest to newest. */
export class FeatureWindowError extends Error {
  override name = "FeatureWindowError";
}

const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;
/** 1970-01-01 was a Thursday: three days on, the week phase is 0 at Monday 00:00 UTC. */
const MONDAY_OFFSET_MS = 3 * DAY_MS;

/**
 * The built-in embedding (layout FEATURE_LAYOUT, tag FEATURE_VERSION) of a window of valid closed bars of one
 * symbol, consecutive and oldest to newest; the newest bar is the one the embedding is stamped with. Pure: it
 * sees only the window, so bars after it can never change the result.
 *
 * Notation: n bars; "the last h" are the newest min(h, n) bars. A bar's reference price is the previous close, or
 * its own open for the oldest bar of the window (the bar before it is not part of the window); its return is
 * r = ln(close / reference). Logs of ratios are taken as differences of logs and sums are scaled by their largest
 * term, so nothing overflows: the output is finite for any bars closedBarSchema accepts, prices from 5e-324 to
 * 1.8e308 included.
 *
 * | component                 | definition                                                     | if undefined    |
 * |---------------------------|----------------------------------------------------------------|-----------------|
 * | ret_h (1,4,20,60,240)     | ln(newest close / reference of the oldest of the last h) = Σ r | -               |
 * | rv_h (20, 240)            | sqrt(mean of r² over the last h): realized volatility per bar  | -               |
 * | range_h (1, 20, 240)      | ln(max high / min low) over the last h                         | -               |
 * | close_pos_240             | (close − min low) / (max high − min low), last 240; 0..1       | 0.5 (no range)  |
 * | vwap_dev_240              | ln(close / vwap), vwap = Σ quote_volume / Σ volume, last 240   | 0 (no volume)   |
 * | volume_z_k (1, 4)         | z-score of the mean log1p(volume) of the last k vs the window  | 0 (all equal)   |
 * | quote_volume_z_k (1, 4)   | the same for quote_volume                                      | 0 (all equal)   |
 * | taker_buy_ratio_h (1, 20) | Σ taker_buy_volume / Σ volume over the last h; 0..1            | 0.5 (no volume) |
 * | trades_ratio_k (1, 4)     | ln((mean trades of the last k + 1) / (mean trades + 1))        | -               |
 * | flat_share                | share of the window's bars without trades (flat bars)          | -               |
 * | time_of_day_sin/cos       | sin/cos(2π · UTC time of day of the newest ts / 24 h)          | -               |
 * | day_of_week_sin/cos       | sin/cos(2π · time since Monday 00:00 UTC / 7 days)             | -               |
 *
 * z-scores use the window's population standard deviation, so |z| <= sqrt(n). Values are float32 (what
 * `real[]` stores) and -0 is written as 0, so equal inputs give byte-identical vectors on every backend.
 */
export function featurize(window: readonly ClosedBar[]): Float32Array {
  checkWindow(window);
  const n = window.length;
  const newest = window[n - 1]!;
  const logClose = window.map((bar) => Math.log(bar.close));
  // ln of each bar's reference price: the previous close, or the oldest bar's own open.
  const logReference = (i: number) => (i === 0 ? Math.log(window[0]!.open) : logClose[i - 1]!);
  const returns = logClose.map((logC, i) => logC - logReference(i));
  const from = (h: number) => n - Math.min(h, n);

  const ret = (h: number) => logClose[n - 1]! - logReference(from(h));
  const realizedVolatility = (h: number) => Math.sqrt(mean(returns.slice(from(h)).map((r) => r * r)));
  const extremes = (h: number) => {
    let high = 0;
    let low = Infinity;
    for (let i = from(h); i < n; i++) {
      high = Math.max(high, window[i]!.high);
      low = Math.min(low, window[i]!.low);
    }
    return { high, low };
  };
  const range = (h: number) => {
    const { high, low } = extremes(h);
    return Math.log(high) - Math.log(low);
  };
  const closePosition = (h: number) => {
    const { high, low } = extremes(h);
    return high > low ? (newest.close - low) / (high - low) : 0.5;
  };
  const vwapDeviation = (h: number) => {
    const recent = window.slice(from(h));
    const logQuote = logOfSum(recent.map((bar) => bar.quote_volume));
    const logVolume = logOfSum(recent.map((bar) => bar.volume));
    return logQuote === null || logVolume === null ? 0 : logClose[n - 1]! - (logQuote - logVolume);
  };
  const volumeZ = zScoresOfNewest(window.map((bar) => Math.log1p(bar.volume)));
  const quoteVolumeZ = zScoresOfNewest(window.map((bar) => Math.log1p(bar.quote_volume)));
  const takerBuyRatio = (h: number) => {
    const recent = window.slice(from(h));
    const scale = largest(recent.map((bar) => bar.volume));
    if (scale === 0) return 0.5;
    // Scaled by the largest volume so the sums cannot overflow; taker <= volume per bar keeps it within 0..1.
    return sum(recent.map((bar) => bar.taker_buy_volume / scale)) / sum(recent.map((bar) => bar.volume / scale));
  };
  const logWindowTrades = Math.log1p(mean(window.map((bar) => bar.trades)));
  const tradesRatio = (k: number) => Math.log1p(mean(window.slice(from(k)).map((bar) => bar.trades))) - logWindowTrades;
  const dayPhase = 2 * Math.PI * ((newest.ts % DAY_MS) / DAY_MS);
  const weekPhase = 2 * Math.PI * (((newest.ts + MONDAY_OFFSET_MS) % WEEK_MS) / WEEK_MS);

  const values: Record<FeatureName, number> = {
    ret_1: ret(1),
    ret_4: ret(4),
    ret_20: ret(20),
    ret_60: ret(60),
    ret_240: ret(240),
    rv_20: realizedVolatility(20),
    rv_240: realizedVolatility(240),
    range_1: range(1),
    range_20: range(20),
    range_240: range(240),
    close_pos_240: closePosition(240),
    vwap_dev_240: vwapDeviation(240),
    volume_z_1: volumeZ(1),
    volume_z_4: volumeZ(4),
    quote_volume_z_1: quoteVolumeZ(1),
    quote_volume_z_4: quoteVolumeZ(4),
    taker_buy_ratio_1: takerBuyRatio(1),
    taker_buy_ratio_20: takerBuyRatio(20),
    trades_ratio_1: tradesRatio(1),
    trades_ratio_4: tradesRatio(4),
    flat_share: window.filter((bar) => bar.trades === 0).length / n,
    time_of_day_sin: Math.sin(dayPhase),
    time_of_day_cos: Math.cos(dayPhase),
    day_of_week_sin: Math.sin(weekPhase),
    day_of_week_cos: Math.cos(weekPhase),
  };
  const embedding = new Float32Array(EMBEDDING_DIM);
  FEATURE_LAYOUT.forEach((name, i) => {
    embedding[i] = values[name];
    // A tiny negative rounds to -0 in float32; Postgres and JSON write it as 0, so write 0 here too.
    if (embedding[i] === 0) embedding[i] = 0;
  });
  return embedding;
}

/**
 * The embedding at `ts` from a longer series of one symbol (ascending, gap-free): featurize over the contract's
 * window (embeddingWindow), or null while the series lacks a full window.
 */
export function embeddingAt(series: readonly ClosedBar[], ts: number, windowBars: number): Float32Array | null {
  const window = embeddingWindow(series, ts, windowBars);
  return window && featurize(window);
}

function checkWindow(window: readonly ClosedBar[]): void {
  if (window.length === 0) throw new FeatureWindowError("expected a window of at least one bar, got none");
  const { symbol } = window[0]!;
  for (let i = 1; i < window.length; i++) {
    const bar = window[i]!;
    if (bar.symbol !== symbol) throw new FeatureWindowError(`expected bars of one symbol, got ${symbol} and ${bar.symbol}`);
    const expected = window[i - 1]!.ts + BAR_MS;
    if (bar.ts !== expected) {
      throw new FeatureWindowError(`expected consecutive bars oldest to newest: bar ${i} opens at ${bar.ts}, expected ${expected}`);
    }
  }
}

function sum(values: readonly number[]): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}

/** The largest of non-negative values, 0 for none. */
function largest(values: readonly number[]): number {
  let max = 0;
  for (const value of values) max = Math.max(max, value);
  return max;
}

function mean(values: readonly number[]): number {
  return sum(values) / values.length;
}

/** ln(Σ values) for non-negative values without overflowing the sum, or null when the sum is 0. */
function logOfSum(values: readonly number[]): number | null {
  const scale = largest(values);
  if (scale === 0) return null;
  return Math.log(scale) + Math.log(sum(values.map((value) => value / scale)));
}

/**
 * z-score of the mean of the newest k values against all of them (population standard deviation), 0 when all
 * are equal. Values are taken relative to the first one, so equal values give exactly 0, not rounding noise.
 */
function zScoresOfNewest(values: readonly number[]): (k: number) => number {
  const shifted = values.map((value) => value - values[0]!);
  const center = mean(shifted);
  const deviation = Math.sqrt(mean(shifted.map((value) => (value - center) ** 2)));
  return (k) => (deviation === 0 ? 0 : (mean(shifted.slice(shifted.length - Math.min(k, shifted.length))) - center) / deviation);
}
