import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Sql } from "@gapfill/testkit";
import { barMsgId, type ClosedBar } from "@gapfill/contracts";
import { MAX_PAGE_LIMIT, type BarStore } from "@gapfill/kit";

/** Every row of the given symbols, keyed `<SYMBOL>:<ts>` like readStreamBars. */
export async function tableBars(store: BarStore, symbols: readonly string[]): Promise<Map<string, ClosedBar>> {
  const rows = new Map<string, ClosedBar>();
  for (const symbol of symbols) {
    for (const bar of await store.pageNewestFirst(symbol, { limit: MAX_PAGE_LIMIT })) rows.set(barMsgId(bar.symbol, bar.ts), bar);
  }
  return rows;
}

export async function rowCount(admin: Sql, schema: string): Promise<number> {
  const [row] = await admin.unsafe<{ n: number }[]>(`select count(*)::int as n from ${schema}.price_15s`);
  return row!.n;
}

/** The recorder consumer's counters as the server sees them. */
export async function consumerState(nc: NatsConnection, stream: string, durable: string) {
  const info = await (await jetstreamManager(nc)).consumers.info(stream, durable);
  return { pending: info.num_pending, ackPending: info.num_ack_pending, redelivered: info.num_redelivered };
}

/** The store, with the size of every upsertBars call appended to `sizes`. */
export function countingUpserts(store: BarStore, sizes: number[]): BarStore {
  return {
    kind: store.kind,
    lastBarTs: (symbol) => store.lastBarTs(symbol),
    pageNewestFirst: (symbol, query) => store.pageNewestFirst(symbol, query),
    upsertBars: (bars) => {
      sizes.push(bars.length);
      return store.upsertBars(bars);
    },
    ping: () => store.ping(),
    close: () => store.close(),
  };
}
