/** Bar-time arithmetic. A bar's `ts` is its open time in epoch ms UTC and covers [ts, ts + BAR_MS). */
export const BAR_MS = 15_000;

export function isAlignedBarTs(ts: number): boolean {
  return Number.isSafeInteger(ts) && ts >= 0 && ts % BAR_MS === 0;
}

/** Open time of the bar that contains a trade made at `tradeTimeMs`. */
export function barOpenTime(tradeTimeMs: number): number {
  return tradeTimeMs - (((tradeTimeMs % BAR_MS) + BAR_MS) % BAR_MS);
}

export function nextBarTs(ts: number): number {
  return ts + BAR_MS;
}

export function previousBarTs(ts: number): number {
  return ts - BAR_MS;
}

/** Open time of the newest bar that has fully closed at wall-clock `nowMs`, i.e. ts + BAR_MS <= nowMs. */
export function lastClosedBarTs(nowMs: number): number {
  return barOpenTime(nowMs) - BAR_MS;
}
