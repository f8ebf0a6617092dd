import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { BUILTIN_PRODUCER, FEATURE_VERSION, isEmbeddingBar, natsNames, type ClosedBar } from "@gapfill/contracts";
import type { EmbeddingRow, EmbeddingStore } from "@gapfill/kit";
import { embeddingAt } from "../src/featurize.ts";
import { EMBEDDER_DURABLE } from "../src/index.ts";

/** What ai_outputs must hold for these bars: the featurizer over each symbol's series, recomputed here. */
export function expectedEmbeddings(bars: Iterable<ClosedBar>, everyBars: number, windowBars: number): EmbeddingRow[] {
  const bySymbol = new Map<string, ClosedBar[]>();
  for (const bar of bars) bySymbol.set(bar.symbol, [...(bySymbol.get(bar.symbol) ?? []), bar]);
  const rows: EmbeddingRow[] = [];
  for (const [symbol, unsorted] of bySymbol) {
    const series = unsorted.sort((a, b) => a.ts - b.ts);
    for (const { ts } of series) {
      if (!isEmbeddingBar(ts, everyBars)) continue;
      const embedding = embeddingAt(series, ts, windowBars);
      if (embedding) rows.push({ symbol, ts, embedding, producer: BUILTIN_PRODUCER, feature_version: FEATURE_VERSION });
    }
  }
  return sortRows(rows);
}

/** Every row of ai_outputs, in (symbol, ts) order. */
export async function storedEmbeddings(store: EmbeddingStore): Promise<EmbeddingRow[]> {
  const rows: EmbeddingRow[] = [];
  for await (const row of store.exportEmbeddings({ fromTs: 0, toTs: Date.UTC(3000, 0, 1) })) rows.push(row);
  return sortRows(rows);
}

function sortRows(rows: EmbeddingRow[]): EmbeddingRow[] {
  return rows.sort((a, b) => (a.symbol === b.symbol ? a.ts - b.ts : a.symbol < b.symbol ? -1 : 1));
}

/** The embedder consumer's state as the server sees it. */
export async function embedderConsumerState(nc: NatsConnection, namespace: string) {
  const info = await (await jetstreamManager(nc)).consumers.info(natsNames(namespace).streams.bars, EMBEDDER_DURABLE);
  return {
    pending: info.num_pending,
    ackPending: info.num_ack_pending,
    redelivered: info.num_redelivered,
    ackFloor: info.ack_floor.stream_seq,
  };
}

/** Whether the embedder has embedded and acknowledged every bar the stream holds. */
export async function drained(nc: NatsConnection, namespace: string, streamLastSeq: number): Promise<boolean> {
  const state = await embedderConsumerState(nc, namespace);
  return state.pending === 0 && state.ackPending === 0 && state.ackFloor >= streamLastSeq;
}
