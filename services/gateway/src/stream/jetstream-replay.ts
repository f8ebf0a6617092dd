import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { BAR_MS } from "@gapfill/contracts";
import type { Logger } from "@gapfill/kit";
import type { BarEntry } from "./bar-feed.ts";
import { barEvent } from "./sse-format.ts";
import { orderedConsumerFrom, PULL_EXPIRES_MS } from "./ordered-consumer.ts";
import { parseStoredBar } from "./stored-bar.ts";

export interface JetStreamReplayDeps {
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: string;
  barsSubject: string;
  log: Logger;
}

/**
 * A bar is stored when it closes (or later, in a backfill), so it is never stored before ts + BAR_MS by the
 * ingestor's clock; starting this much earlier than that tolerates the NATS server's clock being behind.
 */
const STORE_TIME_SLACK_MS = 5 * 60_000;

/**
 * The closed bars with ts > afterTs that the stream holds right now, oldest first, read by an ordered consumer
 * of this replay's own (for replays older than the in-memory window). The consumer is deleted when the caller
 * stops iterating or the stream's end is reached.
 */
export async function* replayFromJetStream(deps: JetStreamReplayDeps, afterTs: number): AsyncGenerator<BarEntry> {
  const { js, jsm, stream, barsSubject, log } = deps;
  const from = Number.isFinite(afterTs) ? new Date(Math.max(0, afterTs + BAR_MS - STORE_TIME_SLACK_MS)) : null;
  const consumer = await orderedConsumerFrom(js, jsm, stream, barsSubject, from);
  try {
    if ((await consumer.info(true)).num_pending === 0) return;
    const messages = await consumer.consume({ max_messages: 500, expires: PULL_EXPIRES_MS });
    try {
      let newest = afterTs;
      for await (const msg of messages) {
        const bar = parseStoredBar(msg.data, msg.subject, log);
        if (bar && bar.ts > newest) {
          newest = bar.ts;
          yield { ts: bar.ts, event: barEvent(bar) };
        }
        if (msg.info.pending === 0) return;
      }
    } finally {
      messages.stop();
    }
  } finally {
    await consumer.delete().catch(() => false);
  }
}
