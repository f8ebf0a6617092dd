import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { barMsgId, closedBarSchema, natsNames, type ClosedBar } from "@gapfill/contracts";

/**
 * Publishes bars the way the ingestor does (`<ns>.bars.15s.<SYMBOL>`, `Nats-Msg-Id = <SYMBOL>:<ts>`), `inFlight`
 * at a time; returns how many the stream stored (a duplicate id within the window is not stored again).
 */
export async function publishBars(nc: NatsConnection, namespace: string, bars: readonly ClosedBar[], inFlight = 256): Promise<number> {
  const js = jetstream(nc);
  const names = natsNames(namespace);
  let stored = 0;
  for (let start = 0; start < bars.length; start += inFlight) {
    const acks = await Promise.all(
      bars.slice(start, start + inFlight).map((bar) =>
        js.publish(names.subjects.bars(bar.symbol), JSON.stringify(bar), { msgID: barMsgId(bar.symbol, bar.ts) }),
      ),
    );
    stored += acks.filter((ack) => !ack.duplicate).length;
  }
  return stored;
}

function jsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Ground truth for a table fed from the stream: every bar in the namespace's BARS stream, read with an ordered
 * consumer, the last valid one per (symbol, ts) in stream order, keyed `<SYMBOL>:<ts>`; messages that are not
 * closed bars are skipped, as the recorder skips them.
 */
export async function readStreamBars(nc: NatsConnection, namespace: string): Promise<Map<string, ClosedBar>> {
  const names = natsNames(namespace);
  const js = jetstream(nc);
  const info = await (await js.jetstreamManager()).streams.info(names.streams.bars);
  const bars = new Map<string, ClosedBar>();
  if (info.state.messages === 0) return bars;
  const consumer = await js.consumers.get(names.streams.bars, { deliver_policy: DeliverPolicy.All });
  const messages = await consumer.consume();
  for await (const msg of messages) {
    const parsed = closedBarSchema.safeParse(jsonOrUndefined(msg.string()));
    if (parsed.success) bars.set(barMsgId(parsed.data.symbol, parsed.data.ts), parsed.data);
    if (msg.info.pending === 0) break;
  }
  await messages.close();
  return bars;
}
