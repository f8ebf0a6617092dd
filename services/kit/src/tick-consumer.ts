import { AckPolicy, DeliverPolicy, JetStreamApiCodes, JetStreamApiError, ReplayPolicy, type ConsumerConfig, type JetStreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import type { NatsNames, TickKind } from "@gapfill/contracts";

export interface TickConsumerSettings {
  /** Durable name: every process of a namespace that does this kind of work shares it. */
  durable: string;
  ackWaitMs: number;
  /** JetStream max_deliver of each tick. */
  maxDeliver: number;
}

/**
 * A durable pull consumer of one kind of scheduler tick (ml-runner's retrain, ml-infer's infer ticks): explicit acks,
 * one tick in flight across every process sharing it, starting at the newest tick the stream keeps.
 */
export function tickConsumerConfig(names: NatsNames, kind: TickKind, settings: TickConsumerSettings): Partial<ConsumerConfig> {
  return {
    durable_name: settings.durable,
    filter_subject: names.subjects.tick(kind),
    ack_policy: AckPolicy.Explicit,
    // The stream keeps the last 100 ticks: a new deployment works once, on the newest, not on every old window.
    deliver_policy: DeliverPolicy.LastPerSubject,
    replay_policy: ReplayPolicy.Instant,
    ack_wait: nanos(settings.ackWaitMs),
    // One tick at a time across the namespace: two processes never do the same window's work side by side.
    max_ack_pending: 1,
    max_deliver: settings.maxDeliver,
  };
}

/** Creates the durable tick consumer, or updates the settings we own; returns what it did. */
export async function ensureTickConsumer(
  jsm: JetStreamManager,
  names: NatsNames,
  kind: TickKind,
  settings: TickConsumerSettings,
): Promise<"created" | "updated" | "unchanged"> {
  const desired = tickConsumerConfig(names, kind, settings);
  let current: ConsumerConfig;
  try {
    current = (await jsm.consumers.info(names.streams.mlTicks, settings.durable)).config;
  } catch (error) {
    if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound)) throw error;
    await jsm.consumers.add(names.streams.mlTicks, desired);
    return "created";
  }
  if (current.ack_wait === desired.ack_wait && current.max_deliver === desired.max_deliver) return "unchanged";
  await jsm.consumers.update(names.streams.mlTicks, settings.durable, { ack_wait: desired.ack_wait, max_deliver: desired.max_deliver });
  return "updated";
}
