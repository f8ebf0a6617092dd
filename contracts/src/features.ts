/**
 * The built-in embedding of recent bars, as stored in `ai_outputs`: its layout, its version, and the rules that
 * decide which bars get one and from which bars it is computed. The computation itself is `featurize` in the
 * embedder; everything here is a pure function of bar times, so a restart or a replay yields the same rows.
 */
import type { ClosedBar } from "./bar.ts";
import { BAR_MS } from "./time.ts";

/**
 * Names of the embedding's components, in vector order. Horizons are counted in bars, so `_4` is one minute,
 * `_240` one hour; a horizon longer than the window uses the whole window. `featurize` defines each one.
 */
export const FEATURE_LAYOUT = [
  "ret_1",
  "ret_4",
  "ret_20",
  "ret_60",
  "ret_240",
  "rv_20",
  "rv_240",
  "range_1",
  "range_20",
  "range_240",
  "close_pos_240",
  "vwap_dev_240",
  "volume_z_1",
  "volume_z_4",
  "quote_volume_z_1",
  "quote_volume_z_4",
  "taker_buy_ratio_1",
  "taker_buy_ratio_20",
  "trades_ratio_1",
  "trades_ratio_4",
  "flat_share",
  "time_of_day_sin",
  "time_of_day_cos",
  "day_of_week_sin",
  "day_of_week_cos",
] as const;
export type FeatureName = (typeof FEATURE_LAYOUT)[number];

/** Length of the built-in embedding vector. */
export const EMBEDDING_DIM = FEATURE_LAYOUT.length;

/**
 * Tag stored with every built-in embedding (`ai_outputs.feature_version`). Change it whenever the layout or the
 * definition of a component changes, so a model never scores vectors of a layout it was not trained on.
 */
export const FEATURE_VERSION = "bars15s.v1";

/** `ai_outputs.producer` of the rows the built-in embedder writes. */
export const BUILTIN_PRODUCER = "builtin";

/** Default number of bars between two embeddings of a symbol (`EMBED_EVERY_BARS`): 4 bars, one a minute. */
export const DEFAULT_EMBED_EVERY_BARS = 4;

/** Default number of bars an embedding is computed from (`EMBED_WINDOW_BARS`): 240 bars, one hour. */
export const DEFAULT_EMBED_WINDOW_BARS = 240;

function checkBarCount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name}: expected a positive integer, got ${value}`);
}

/**
 * Whether the bar opening at `ts` gets an embedding: every `everyBars`-th bar counted from the epoch, the last one
 * of each group, so for 4 it is the bar opening at second 45 of each minute (which closes on the minute). It
 * depends on `ts` alone, never on how many bars a process has seen.
 */
export function isEmbeddingBar(ts: number, everyBars: number): boolean {
  checkBarCount("everyBars", everyBars);
  return (ts / BAR_MS + 1) % everyBars === 0;
}

/**
 * Open time of the oldest bar of the window for an embedding at `ts`: the window is the `windowBars` consecutive
 * bars ending with the bar at `ts` (the series is gap-free; flat bars fill quiet intervals).
 */
export function embeddingWindowStart(ts: number, windowBars: number): number {
  checkBarCount("windowBars", windowBars);
  return ts - (windowBars - 1) * BAR_MS;
}

/**
 * The window for an embedding at `ts` taken from `series` (one symbol, ascending, one bar per ts), or null when
 * the series does not hold all `windowBars` bars of it: no embedding is made from a partial window.
 */
export function embeddingWindow(series: readonly ClosedBar[], ts: number, windowBars: number): readonly ClosedBar[] | null {
  const start = embeddingWindowStart(ts, windowBars);
  const end = lastIndexAtOrBefore(series, ts);
  const first = end - windowBars + 1;
  if (end < 0 || first < 0 || series[end]!.ts !== ts) return null;
  // Ascending aligned times from `start` to `ts` in exactly windowBars entries leave no room for a gap.
  return series[first]!.ts === start ? series.slice(first, end + 1) : null;
}

/** Index of the last bar with bar.ts <= ts, or -1; binary search over an ascending series. */
function lastIndexAtOrBefore(series: readonly ClosedBar[], ts: number): number {
  let low = 0;
  let high = series.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (series[middle]!.ts <= ts) low = middle + 1;
    else high = middle;
  }
  return low - 1;
}
