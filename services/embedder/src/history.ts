import type { JetStreamManager } from "@nats-io/jetstream";
import type { NatsNames } from "@gapfill/contracts";
import { decodeBarMessage } from "@gapfill/kit";
import type { StoredBar } from "./bar-runs.ts";

/**
 * Every closed bar of `symbol` stored in the bars stream before sequence `beforeSeq` with ts >= `fromTs`, oldest
 * first: what a window needs from before the bars delivered to the embedder. The stream interleaves all symbols
 * and offers no "previous message of a subject", so it is read backwards in spans of sequences (`spanHint` first,
 * doubling), each walked forward with direct gets of the subject's next message, until a span reaches a bar at or
 * before `fromTs` or the stream's beginning. Bar times follow stream order within a subject.
 */
export async function readBarsBefore(
  jsm: JetStreamManager,
  names: NatsNames,
  symbol: string,
  beforeSeq: number,
  fromTs: number,
  spanHint: number,
): Promise<StoredBar[]> {
  const subject = names.subjects.bars(symbol);
  const spans: StoredBar[][] = [];
  let span = Math.max(1, spanHint);
  for (let end = beforeSeq; end > 1; span *= 2) {
    const start = Math.max(1, end - span);
    const read: StoredBar[] = [];
    for (let seq = start; ; ) {
      const msg = await jsm.direct.getMessage(names.streams.bars, { seq, next_by_subj: subject });
      if (!msg || msg.seq >= end) break;
      const decoded = decodeBarMessage(subject, msg.data);
      if (decoded.ok) read.push({ bar: decoded.bar, seq: msg.seq });
      seq = msg.seq + 1;
    }
    spans.unshift(read);
    if (read.some((stored) => stored.bar.ts <= fromTs)) break;
    end = start;
  }
  return spans.flat().filter((stored) => stored.bar.ts >= fromTs);
}
