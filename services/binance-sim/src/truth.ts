import { Decimal } from "decimal.js";
import { BAR_MS, type ClosedBar } from "@gapfill/contracts";
import { aggTradeRow, type AggTradeRow } from "./format.ts";
import type { Tape } from "./tape.ts";

/** Enough significant digits that sums of 8-decimal values over days are never rounded. */
const Exact = Decimal.clone({ precision: 60 });

/** Binance's invalid audit records: price and quantity zero, no raw trades. */
function isAuditRecord(row: AggTradeRow): boolean {
  return row.f === -1 && row.l === -1 && new Exact(row.p).isZero() && new Exact(row.q).isZero();
}

const toNumber = (value: Decimal) => Number(value.toString());

/**
 * Ground truth: the exact 15 s bars with open time in [fromTs, toTs) that have closed by `clock`, computed
 * from the aggregate trades exactly as the REST API serves them (decimal strings, summed with decimal.js). It shares
 * no code with the kline builder, nor with any consumer's aggregator. Bars before the tape's first valid trade do
 * not exist (they have no previous close).
 */
export function referenceBars(tape: Tape, fromTs: number, toTs: number, clock: number): ClosedBar[] {
  const symbol = tape.spec.symbol;
  const bars: ClosedBar[] = [];
  const visibleEnd = tape.firstIndexAfter(clock);
  let ts = Math.ceil(fromTs / BAR_MS) * BAR_MS;
  let i = tape.firstIndexAtOrAfter(ts);
  let previousClose: Decimal | null = null;
  for (let j = Math.min(i, visibleEnd) - 1; j >= 0 && previousClose === null; j--) {
    const row = aggTradeRow(tape, j);
    if (!isAuditRecord(row)) previousClose = new Exact(row.p);
  }
  for (; ts < toTs && ts + BAR_MS <= clock; ts += BAR_MS) {
    let open: Decimal | null = null;
    let high = new Exact(0);
    let low = new Exact(0);
    let close = new Exact(0);
    let volume = new Exact(0);
    let quoteVolume = new Exact(0);
    let takerBuyVolume = new Exact(0);
    let trades = 0;
    let firstAggId: number | null = null;
    let lastAggId: number | null = null;
    for (; i < visibleEnd && tape.timeAt(i) < ts + BAR_MS; i++) {
      const row = aggTradeRow(tape, i);
      if (isAuditRecord(row)) continue;
      const price = new Exact(row.p);
      const quantity = new Exact(row.q);
      if (open === null) {
        open = high = low = price;
        firstAggId = row.a;
      }
      if (price.greaterThan(high)) high = price;
      if (price.lessThan(low)) low = price;
      close = price;
      lastAggId = row.a;
      volume = volume.plus(quantity);
      quoteVolume = quoteVolume.plus(price.times(quantity));
      if (!row.m) takerBuyVolume = takerBuyVolume.plus(quantity);
      trades += row.l - row.f + 1;
    }
    if (open === null) {
      if (previousClose === null) continue;
      open = high = low = close = previousClose;
    }
    previousClose = close;
    bars.push({
      symbol,
      ts,
      open: toNumber(open),
      high: toNumber(high),
      low: toNumber(low),
      close: toNumber(close),
      volume: toNumber(volume),
      quote_volume: toNumber(quoteVolume),
      trades,
      taker_buy_volume: toNumber(takerBuyVolume),
      first_agg_id: firstAggId,
      last_agg_id: lastAggId,
    });
  }
  return bars;
}
