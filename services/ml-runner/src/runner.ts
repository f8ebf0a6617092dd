import { jetstream, jetstreamManager, type ConsumerMessages, type JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { runIdOf, tickEventSchema, type NatsNames, type TickEvent } from "@gapfill/contracts";
import { backoffDelayMs, ensureTickConsumer, type BackoffPolicy, type ServiceLifecycle } from "@gapfill/kit";
import { RUNNER_DURABLE, runnerConsumerSettings } from "./consumer.ts";
import { executeRun, failRun, RunStepError, type RunDeps, type RunSettings } from "./run.ts";

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
 * announced); the delivery after ML_MAX_DELIVERIES, or a training job that failed, ends the run as failed. stop()
 * interrupts the run in hand and hands its tick back at once; a SageMaker job keeps running and is found again.
 */
export async function startRunner(options: RunnerOptions): Promise<ServiceLifecycle> {
  const { names, deps, settings, maxDeliveries, ackWaitMs } = options;
  const tuning = { ...DEFAULT_RUNNER_TUNING, ...options.tuning };
  const log = deps.log;
  const consumerAction = await ensureTickConsumer(await jetstreamManager(options.nc), names, "retrain", runnerConsumerSettings({ ackWaitMs, maxDeliveries }));
  const consumer = await jetstream(options.nc).consumers.get(names.streams.mlTicks, RUNNER_DURABLE);
  const messages: ConsumerMessages = await consumer.consume({ max_messages: 1 });
  log.info({ stream: names.streams.mlTicks, durable: RUNNER_DURABLE, consumer: consumerAction, trainer: deps.trainer.kind }, "waiting for retrain ticks");

  const stopping = new AbortController();
  /**
   * Ticks taken but not finished when stop() came: handed back (nak) only after the subscription is closed, so the
   * server gives them to another runner instead of back to this one's pull request.
   */
  const handBack: JsMsg[] = [];

  async function handle(msg: JsMsg): Promise<void> {
    let tick: TickEvent;
    try {
      tick = tickEventSchema.parse(msg.json());
      if (tick.kind !== "retrain") throw new Error(`a ${tick.kind} tick on the retrain subject`);
    } catch (error) {
      log.warn({ subject: msg.subject, seq: msg.seq, err: error }, "not a retrain tick: terminated");
      // No reason text: NATS 2.9 takes only a bare "+TERM" as a termination.
      msg.term();
      return;
    }
    const delivery = msg.info.deliveryCount;
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
      await executeRun(deps, settings, tick, delivery, stopping.signal);
      msg.ack();
    } catch (error) {
      if (stopping.signal.aborted) {
        log.info({ run: runId }, "run interrupted by stop; its tick is handed back");
        handBack.push(msg);
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

  const loop = (async () => {
    for await (const msg of messages) {
      if (stopping.signal.aborted) {
        handBack.push(msg);
        continue;
      }
      await handle(msg);
    }
  })();
  const done = loop.then(() => {
    if (!stopping.signal.aborted) throw new Error("the retrain tick subscription ended on its own");
  });
  done.catch(() => {});

  let stopped: Promise<void> | null = null;
  return {
    ready: Promise.resolve(),
    done,
    stop: () =>
      (stopped ??= (async () => {
        stopping.abort(new Error("ml-runner stopping"));
        await messages.close();
        await loop.catch(() => {});
        for (const msg of handBack.splice(0)) msg.nak();
        log.info("ml-runner stopped");
      })()),
  };
}
