import { binanceErrors } from "./binance-errors.ts";
import type { Tape } from "./tape.ts";

/** Binance documents startTime/endTime as limited to an hour apart when both are sent. */
export const MAX_AGG_TRADES_SPAN_MS = 3_600_000;

export interface AggTradesQuery {
  fromId?: number;
  startTime?: number;
  endTime?: number;
  limit: number;
  /** The simulated now: nothing after it is served. */
  clock: number;
}

/**
 * The index range [from, to) that `GET /api/v3/aggTrades` answers, oldest first:
 * - `fromId`: from that id on (inclusive); it cannot be combined with a time bound (-1128);
 * - `startTime`/`endTime`: inclusive bounds, at most an hour apart (-1127); with only `endTime`, the newest
 *   `limit` trades up to it;
 * - none: the newest `limit` trades.
 */
export function aggTradesRange(tape: Tape, query: AggTradesQuery): { from: number; to: number } {
  const { fromId, startTime, endTime, limit } = query;
  const visibleEnd = tape.firstIndexAfter(query.clock);
  if (fromId !== undefined) {
    if (startTime !== undefined || endTime !== undefined) throw binanceErrors.badCombination();
    const from = Math.max(0, tape.indexOfId(fromId));
    return { from, to: Math.max(from, Math.min(visibleEnd, from + limit)) };
  }
  if (startTime !== undefined && endTime !== undefined) {
    if (endTime < startTime) throw binanceErrors.badCombination();
    if (endTime - startTime > MAX_AGG_TRADES_SPAN_MS) throw binanceErrors.lookupTooBig(MAX_AGG_TRADES_SPAN_MS / 3_600_000);
  }
  if (startTime !== undefined) {
    const from = tape.firstIndexAtOrAfter(startTime);
    const end = endTime === undefined ? visibleEnd : Math.min(visibleEnd, tape.firstIndexAfter(endTime));
    return { from, to: Math.max(from, Math.min(end, from + limit)) };
  }
  const to = endTime === undefined ? visibleEnd : Math.min(visibleEnd, tape.firstIndexAfter(endTime));
  return { from: Math.max(0, to - limit), to };
}
