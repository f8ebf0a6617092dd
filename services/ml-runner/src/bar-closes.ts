import { BAR_MS } from "@gapfill/contracts";
import type { BarStore } from "@gapfill/kit";

/** Bars read per query while collecting a symbol's closes. */
const PAGE_BARS = 10_000;

/** The closes of one symbol's bars over a range, one slot per bar time (NaN where the table has no bar). */
export interface BarCloses {
  closeAt(ts: number): number | undefined;
}

/**
 * Reads the closes of `symbol`'s bars with fromTs <= ts <= toTs in one pass of newest-first keyset pages, into one
 * float64 per bar of the range (a week of 15 s bars is 320 KB), so each label is a lookup, not a query.
 */
export async function readBarCloses(store: BarStore, symbol: string, fromTs: number, toTs: number): Promise<BarCloses> {
  const first = Math.ceil(fromTs / BAR_MS) * BAR_MS;
  const slots = toTs < first ? 0 : Math.floor((toTs - first) / BAR_MS) + 1;
  const closes = new Float64Array(slots).fill(Number.NaN);
  let before: number | undefined;
  while (slots > 0) {
    const page = await store.pageNewestFirst(symbol, { fromTs: first, toTs, limit: PAGE_BARS, ...(before === undefined ? {} : { before }) });
    for (const bar of page) closes[(bar.ts - first) / BAR_MS] = bar.close;
    if (page.length < PAGE_BARS) break;
    before = page[page.length - 1]!.ts;
  }
  return {
    closeAt(ts) {
      const slot = (ts - first) / BAR_MS;
      const close = Number.isInteger(slot) && slot >= 0 && slot < slots ? closes[slot]! : Number.NaN;
      return Number.isNaN(close) ? undefined : close;
    },
  };
}

/** 1 when the close `horizonMs` after ts is above the close at ts, 0 when not; null when either bar is missing. */
export function labelAt(closes: BarCloses, ts: number, horizonMs: number): 0 | 1 | null {
  const now = closes.closeAt(ts);
  const later = closes.closeAt(ts + horizonMs);
  if (now === undefined || later === undefined) return null;
  return later > now ? 1 : 0;
}
