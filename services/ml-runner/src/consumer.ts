import type { TickConsumerSettings } from "@gapfill/kit";

/** Durable name of the retrain consumer: every runner of a namespace shares it. */
export const RUNNER_DURABLE = "ml-runner";

export interface RunnerConsumerSettings {
  ackWaitMs: number;
  /** ML_MAX_DELIVERIES: deliveries that may work on a tick. */
  maxDeliveries: number;
}

/**
 * The retrain tick consumer (see tickConsumerConfig). With one tick in flight, runs never overlap, so each gate
 * compares against the model the run before it published.
 */
export function runnerConsumerSettings(settings: RunnerConsumerSettings): TickConsumerSettings {
  return {
    durable: RUNNER_DURABLE,
    ackWaitMs: settings.ackWaitMs,
    // One delivery more than may work: it only records that the run was given up (the one before may have died).
    maxDeliver: settings.maxDeliveries + 1,
  };
}
