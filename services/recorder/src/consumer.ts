import { AckPolicy, DeliverPolicy, JetStreamApiCodes, JetStreamApiError, ReplayPolicy, type ConsumerConfig, type JetStreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import type { NatsNames } from "@gapfill/contracts";

/** Durable name of the recorder's consumer: every recorder of a namespace shares it and splits the work. */
export const RECORDER_DURABLE = "recorder";

export interface RecorderConsumerSettings {
  ackWaitMs: number;
  /** Bars a recorder may hold unacknowledged: the batch being written plus the next one filling up. */
  maxAckPending: number;
}

export function recorderConsumerConfig(names: NatsNames, settings: RecorderConsumerSettings): Partial<ConsumerConfig> {
  return {
    durable_name: RECORDER_DURABLE,
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

/** Creates the durable pull consumer, or updates the settings we own; returns what it did. */
export async function ensureRecorderConsumer(
  jsm: JetStreamManager,
  names: NatsNames,
  settings: RecorderConsumerSettings,
): Promise<"created" | "updated" | "unchanged"> {
  const desired = recorderConsumerConfig(names, settings);
  let current: ConsumerConfig;
  try {
    current = (await jsm.consumers.info(names.streams.bars, RECORDER_DURABLE)).config;
  } catch (error) {
    if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound)) throw error;
    await jsm.consumers.add(names.streams.bars, desired);
    return "created";
  }
  if (current.ack_wait === desired.ack_wait && current.max_ack_pending === desired.max_ack_pending) return "unchanged";
  await jsm.consumers.update(names.streams.bars, RECORDER_DURABLE, { ack_wait: desired.ack_wait, max_ack_pending: desired.max_ack_pending });
  return "updated";
}
