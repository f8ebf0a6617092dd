import { AckPolicy, DeliverPolicy, JetStreamApiCodes, JetStreamApiError, ReplayPolicy, type ConsumerConfig, type JetStreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import type { NatsNames } from "@gapfill/contracts";

export interface BarConsumerSettings {
  /** How long a bar delivered to a process that died stays invisible before it is delivered again. */
  ackWaitMs: number;
  /** Bars delivered and not yet acknowledged. */
  maxAckPending: number;
}

/**
 * A durable pull consumer of every symbol's closed bars (the recorder's, the embedder's): explicit acks, from the
 * oldest bar the stream keeps, never giving up on a bar.
 */
export function barConsumerConfig(names: NatsNames, durable: string, settings: BarConsumerSettings): Partial<ConsumerConfig> {
  return {
    durable_name: durable,
    // One subject filter string: NATS 2.9 has no filter_subjects.
    filter_subject: names.subjects.allBars,
    ack_policy: AckPolicy.Explicit,
    // A new consumer starts from the oldest bar the stream keeps, so an empty table catches up in bulk.
    deliver_policy: DeliverPolicy.All,
    replay_policy: ReplayPolicy.Instant,
    ack_wait: nanos(settings.ackWaitMs),
    max_ack_pending: settings.maxAckPending,
    // A database outage must never use up deliveries: the bars wait in the stream until they are written.
    max_deliver: -1,
  };
}

/** Creates the durable bar consumer, or updates the settings we own; returns what it did. */
export async function ensureBarConsumer(
  jsm: JetStreamManager,
  names: NatsNames,
  durable: string,
  settings: BarConsumerSettings,
): Promise<"created" | "updated" | "unchanged"> {
  const desired = barConsumerConfig(names, durable, settings);
  let current: ConsumerConfig;
  try {
    current = (await jsm.consumers.info(names.streams.bars, durable)).config;
  } catch (error) {
    if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound)) throw error;
    await jsm.consumers.add(names.streams.bars, desired);
    return "created";
  }
  if (current.ack_wait === desired.ack_wait && current.max_ack_pending === desired.max_ack_pending) return "unchanged";
  await jsm.consumers.update(names.streams.bars, durable, { ack_wait: desired.ack_wait, max_ack_pending: desired.max_ack_pending });
  return "updated";
}
