import type { JetStreamManager } from "@nats-io/jetstream";
import { BAR_MS, type NatsNames } from "@gapfill/contracts";
import { decodeBarMessage, type BarStore } from "@gapfill/kit";

export interface SymbolLag {
  symbol: string;
  /** Open time of the newest bar of the symbol in the stream. */
  streamLastTs: number;
  /** Open time of the newest row in the table, null when it has none. */
  tableLastTs: number | null;
  /** How far the table trails the stream: the newest bar's end minus the newest row's end (0 when level). */
  lagMs: number;
}

function barTsOf(subject: string, data: Uint8Array): number | null {
  const decoded = decodeBarMessage(subject, data);
  return decoded.ok ? decoded.bar.ts : null;
}

/**
 * Newest bar in the stream (a direct get of the last message on the symbol's subject) against the newest row in
 * the table. For a symbol with no rows at all, the lag covers the stream from its oldest bar of that symbol.
 */
export async function measureLag(jsm: JetStreamManager, names: NatsNames, store: BarStore, symbols: Iterable<string>): Promise<SymbolLag[]> {
  const lags: SymbolLag[] = [];
  for (const symbol of symbols) {
    const subject = names.subjects.bars(symbol);
    const last = await jsm.direct.getMessage(names.streams.bars, { last_by_subj: subject });
    const streamLastTs = last ? barTsOf(subject, last.data) : null;
    if (streamLastTs === null) continue;
    const tableLastTs = await store.lastBarTs(symbol);
    let lagMs: number;
    if (tableLastTs === null) {
      const first = await jsm.direct.getMessage(names.streams.bars, { seq: 1, next_by_subj: subject });
      lagMs = streamLastTs - (first ? (barTsOf(subject, first.data) ?? streamLastTs) : streamLastTs) + BAR_MS;
    } else {
      lagMs = Math.max(0, streamLastTs - tableLastTs);
    }
    lags.push({ symbol, streamLastTs, tableLastTs, lagMs });
  }
  return lags;
}
