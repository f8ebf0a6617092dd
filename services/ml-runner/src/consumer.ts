import { AckPolicy, DeliverPolicy, JetStreamApiCodes, JetStreamApiError, ReplayPolicy, type ConsumerConfig, type JetStreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import type { NatsNames } from "@gapfill/contracts";

/** Durable name of the retrain consumer: every runner of a namespace shares it. */
export const RUNNER_DURABLE = "ml-runner";

export interface RunnerConsumerSettings {
  ackWaitMs: number;
  /** ML_MAX_DELIVERIES: deliveries that may work on a tick. */
  maxDeliveries: number;
}

export function runnerConsumerConfig(names: NatsNames, settings: RunnerConsumerSettings): Partial<ConsumerConfig> {
  return {
    durable_name: RUNNER_DURABLE,
    filter_subject: names.subjects.tick("retrain"),
    ack_policy: AckPolicy.Explicit,
    // The stream keeps the last 100 ticks: a new deployment trains once, on the newest, not on every old window.
    deliver_policy: DeliverPolicy.LastPerSubject,
    replay_policy: ReplayPolicy.Instant,
    ack_wait: nanos(settings.ackWaitMs),
    // One tick in flight across every runner of the namespace: runs never overlap, so each gate compares against the
    // model the run before it published.
    max_ack_pending: 1,
    // One delivery more than may work: it only records that the run was given up (the one before may have died).
    max_deliver: settings.maxDeliveries + 1,
  };
}

/** Creates the durable pull consumer, or updates the settings we own; returns what it did. */
export async function ensureRunnerConsumer(
  jsm: JetStreamManager,
  names: NatsNames,
  settings: RunnerConsumerSettings,
): Promise<"created" | "updated" | "unchanged"> {
  const desired = runnerConsumerConfig(names, settings);
  let current: ConsumerConfig;
  try {
    current = (await jsm.consumers.info(names.streams.mlTicks, RUNNER_DURABLE)).config;
  } catch (error) {
    if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound)) throw error;
    await jsm.consumers.add(names.streams.mlTicks, desired);
    return "created";
  }
  if (current.ack_wait === desired.ack_wait && current.max_deliver === desired.max_deliver) return "unchanged";
  await jsm.consumers.update(names.streams.mlTicks, RUNNER_DURABLE, { ack_wait: desired.ack_wait, max_deliver: desired.max_deliver });
  return "updated";
}
