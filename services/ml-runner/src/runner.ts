import { jetstream, jetstreamManager, type ConsumerMessages, type JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { runIdOf, type NatsNames } from "@gapfill/contracts";
import {
  backoffDelayMs,
  decodeTickMessage,
  ensureTickConsumer,
  takeTicksInTurn,
  type BackoffPolicy,
  type ServiceLifecycle,
  type TickHandling,
} from "@gapfill/kit";
import { RUNNER_DURABLE, runnerConsumerSettings } from "./consumer.ts";
import { attemptOf, executeRun, failRun, RunStepError, type RunDeps, type RunSettings } from "./run.ts";

export interface RunnerTuning {
  /** Delay before a failed attempt's tick is delivered again, growing with the delivery count. */
  retry: BackoffPolicy;
}

export const DEFAULT_RUNNER_TUNING: RunnerTuning = { retry: { initialMs: 10_000, maxMs: 300_000 } };

export interface RunnerOptions {
  nc: NatsConnection;
  names: NatsNames;
  deps: RunDeps;
  settings: RunSettings;
  /** ML_MAX_DELIVERIES. */
  maxDeliveries: number;
  /** ML_ACK_WAIT_SECONDS in ms. */
  ackWaitMs: number;
  tuning?: Partial<RunnerTuning>;
}

/**
 * Takes retrain ticks from the shared durable consumer one at a time and runs each (see executeRun). While a run
 * lasts its tick is kept claimed with in-progress acks. A failed attempt is handed back for a later delivery (and
 * announced); the attempt after ML_MAX_DELIVERIES (see attemptOf), or a training job that failed, ends the run as
 * failed. stop() interrupts the run in hand and hands its tick back at once; a SageMaker job keeps running and is
 * found again.
 */
export async function startRunner(options: RunnerOptions): Promise<ServiceLifecycle> {
  const { names, deps, settings, maxDeliveries, ackWaitMs } = options;
  const tuning = { ...DEFAULT_RUNNER_TUNING, ...options.tuning };
  const log = deps.log;
  const consumerAction = await ensureTickConsumer(await jetstreamManager(options.nc), names, "retrain", runnerConsumerSettings({ ackWaitMs, maxDeliveries }));
  const consumer = await jetstream(options.nc).consumers.get(names.streams.mlTicks, RUNNER_DURABLE);
  const messages: ConsumerMessages = await consumer.consume({ max_messages: 1 });
  log.info({ stream: names.streams.mlTicks, durable: RUNNER_DURABLE, consumer: consumerAction, trainer: deps.trainer.kind }, "waiting for retrain ticks");

  async function handle(msg: JsMsg, { signal, handBack }: TickHandling): Promise<void> {
    const decoded = decodeTickMessage(msg.subject, msg.data);
    if (!decoded.ok) {
      log.warn({ subject: msg.subject, seq: msg.seq, reason: decoded.reason }, "not a retrain tick: terminated");
      // No reason text: NATS 2.9 takes only a bare "+TERM" as a termination.
      msg.term();
      return;
    }
    const tick = decoded.tick;
    const delivery = await attemptOf(deps, settings, tick, msg.info.deliveryCount);
    const runId = runIdOf(tick);
    if (delivery > maxDeliveries) {
      const reason = `given up: the tick was delivered ${maxDeliveries} times (ML_MAX_DELIVERIES) without the run ending`;
      log.error({ run: runId, delivery }, reason);
      await failRun(deps, settings, tick, { step: "deliveries", reason, delivery, jobName: null, final: true });
      msg.term();
      return;
    }
    const claim = setInterval(() => msg.working(), Math.max(100, Math.floor(ackWaitMs / 3)));
    deps.metrics.runInProgress.set(1);
    try {
      await executeRun(deps, settings, tick, delivery, signal);
      msg.ack();
    } catch (error) {
      if (signal.aborted) {
        log.info({ run: runId }, "run interrupted by stop; its tick is handed back");
        handBack(msg);
        return;
      }
      const stepError = error instanceof RunStepError ? error : null;
      // Errors outside a step (reading the record, the started event) come before the export could begin.
      const step = stepError?.step ?? "export";
      const final = stepError?.final === true || delivery >= maxDeliveries;
      const reason = stepError ? (stepError.cause as Error)?.message ?? stepError.message : (error as Error).message;
      deps.metrics.attemptFailures.inc({ step });
      if (final) {
        log.error({ run: runId, step, delivery, err: error }, `run failed at ${step}; given up`);
      } else {
        log.warn({ run: runId, step, delivery, maxDeliveries, err: error }, `run failed at ${step}; the tick will be delivered again`);
      }
      await failRun(deps, settings, tick, { step, reason, delivery, jobName: stepError?.jobName ?? null, final }).catch((reportError: unknown) =>
        log.error({ run: runId, err: reportError }, "could not record or announce the failure"),
      );
      if (final) msg.term();
      else msg.nak(backoffDelayMs(delivery - 1, tuning.retry));
    } finally {
      clearInterval(claim);
      deps.metrics.runInProgress.set(0);
    }
  }

  const ticks = takeTicksInTurn(messages, handle, "retrain tick");

  let stopped: Promise<void> | null = null;
  return {
    ready: Promise.resolve(),
    done: ticks.done,
    stop: () =>
      (stopped ??= (async () => {
        await ticks.stop();
        log.info("ml-runner stopped");
      })()),
  };
}
