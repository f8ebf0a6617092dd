import { BAR_MS, type ClosedBar } from "@gapfill/contracts";
import { seededWords } from "./random.ts";

/** A fixed, aligned start for test series: 2024-01-01T00:00:00Z. */
export const TEST_SERIES_START = Date.UTC(2024, 0, 1);

/**
 * `count` consecutive valid bars of `symbol` from `fromTs`, with awkward decimals (many digits, tiny and large
 * magnitudes), flat bars and null aggregate ids mixed in — deterministic for a given `seed`, so a test can rebuild
 * its ground truth. Bars with a different `seed` differ in every value field, which shows an overwrite.
 */
export function testBars(symbol: string, fromTs: number, count: number, seed = 1): ClosedBar[] {
  const bars: ClosedBar[] = [];
  const word = seededWords(seed);
  const random = () => word() / 2 ** 32;
  let close = 42_000 + seed * 1.01;
  let aggId = 3_000_000_000 + seed * 10_000_000;
  for (let i = 0; i < count; i++) {
    const ts = fromTs + i * BAR_MS;
    if (i % 17 === 5) {
      bars.push({
        symbol, ts, open: close, high: close, low: close, close, volume: 0, quote_volume: 0, trades: 0,
        taker_buy_volume: 0, first_agg_id: null, last_agg_id: null,
      });
      continue;
    }
    const open = close;
    close = Math.round((open + (random() - 0.5) * 40) * 100) / 100;
    const high = Math.round((Math.max(open, close) + random() * 5) * 100) / 100;
    const low = Math.round((Math.min(open, close) - random() * 5) * 100) / 100;
    const volume = Math.round(random() * 1e8) / 1e8 + (i % 3);
    const takerBuy = Math.round(volume * random() * 1e8) / 1e8;
    const trades = 1 + Math.floor(random() * 5000);
    const withIds = i % 11 !== 7;
    const firstAggId = aggId + 1;
    aggId += trades;
    bars.push({
      symbol,
      ts,
      open,
      high,
      low,
      close,
      volume,
      quote_volume: Math.round(volume * close * 1e8) / 1e8,
      trades,
      taker_buy_volume: Math.min(takerBuy, volume),
      first_agg_id: withIds ? firstAggId : null,
      last_agg_id: withIds ? aggId : null,
    });
  }
  return bars;
}
