/**
 * Closed history, fast: whole bars from 1 s klines (1,000 seconds per request), then the first aggregate trade at
 * or after the handover, where the trade path (with ids) takes over and joins the live stream by id.
 *
 * Klines are only asked for seconds that ended at least `settleMs` ago, so the still-open kline is never read, and
 * only up to a bar boundary, so no bar mixes klines and trades. Seconds without trades may come back as empty
 * klines or not at all: empty ones are ignored, and a full page (1,000 rows) is taken to cover only up to its last
 * row, so omitted seconds never make us skip ahead.
 */
import { barOpenTime } from "@gapfill/contracts";
import type { Logger } from "@gapfill/kit";
import type { BarAggregator } from "./aggregate.ts";
import { PAGE_LIMIT, RestStoppedError, type BinanceRest } from "./binance/rest.ts";
import type { Trade } from "./binance/wire.ts";

const SECOND_MS = 1000;
const HOUR_MS = 3_600_000;
const PROGRESS_LOG_EVERY_MS = 5000;

export interface BackfillDeps {
  symbol: string;
  rest: BinanceRest;
  clock: () => number;
  log: Logger;
  /** How long after a second ends its kline is taken as final. */
  settleMs: number;
  isStopped: () => boolean;
}

/**
 * Folds 1 s klines into `aggregator` from its forming bar up to the newest settled bar boundary, handing closed
 * bars to `onBars` page by page. Returns the handover: the bar boundary where klines stopped and trades take over. REST retries what can be
 * retried; whatever it throws (a refused request, an answer we cannot read) ends the backfill.
 */
export async function backfillFromKlines(
  deps: BackfillDeps,
  aggregator: BarAggregator,
  onBars: (bars: ReturnType<BarAggregator["takeClosed"]>) => void,
): Promise<number> {
  const { symbol, rest, clock, log, settleMs } = deps;
  const startTs = aggregator.formingTs;
  let cursor = startTs;
  let requests = 0;
  let lastLogAt = 0;
  while (!deps.isStopped()) {
    const edge = barOpenTime(clock() - settleMs);
    if (cursor >= edge) break;
    const windowEnd = Math.min(cursor + PAGE_LIMIT * SECOND_MS, edge);
    const klines = await rest.klines({ symbol, startTime: cursor, endTime: windowEnd - 1 });
    requests++;
    for (const kline of klines) {
      if (kline.openTime >= cursor && kline.openTime < windowEnd) aggregator.addKline(kline);
    }
    const last = klines.at(-1);
    cursor = klines.length >= PAGE_LIMIT && last ? last.openTime + SECOND_MS : windowEnd;
    aggregator.closeThrough(cursor);
    onBars(aggregator.takeClosed());
    const now = Date.now();
    if (now - lastLogAt >= PROGRESS_LOG_EVERY_MS || cursor >= edge) {
      lastLogAt = now;
      const percent = edge > startTs ? Math.min(100, ((cursor - startTs) / (edge - startTs)) * 100) : 100;
      log.info(
        { percent: Number(percent.toFixed(1)), reached: new Date(cursor).toISOString(), requests },
        "backfill from 1 s klines",
      );
    }
  }
  return cursor;
}

/**
 * The first aggregate trade at or after `handoverTs` anchors the id sequence. Returns that id and the page of trades
 * from it (which may be empty: then the id is the one after the newest trade, which is older than the handover).
 */
export async function findHandoverTrades(
  deps: BackfillDeps,
  handoverTs: number,
): Promise<{ firstId: number; trades: Trade[] }> {
  const { symbol, rest } = deps;
  for (;;) {
    if (deps.isStopped()) throw new RestStoppedError("stopped during backfill");
    const trades = await rest.aggTrades({ symbol, startTime: handoverTs, endTime: handoverTs + HOUR_MS - 1 });
    if (trades.length > 0) return { firstId: trades[0]!.id, trades };
    // Nothing since the handover yet: the sequence continues after the newest trade, if it is older than the handover.
    const [newest] = await rest.aggTrades({ symbol, limit: 1 });
    if (!newest) return { firstId: 0, trades: [] };
    if (newest.time < handoverTs) return { firstId: newest.id + 1, trades: [] };
    // A trade landed between the two requests: ask again by time.
  }
}
