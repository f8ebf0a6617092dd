import { jetstream, jetstreamManager, type ConsumerMessages, type JsMsg } from "@nats-io/jetstream";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { modelPublishedEventSchema, type NatsNames } from "@gapfill/contracts";
import {
  backoffDelayMs,
  decodeTickMessage,
  ensureTickConsumer,
  takeTicksInTurn,
  type BackoffPolicy,
  type Logger,
  type ServiceLifecycle,
  type TickHandling,
} from "@gapfill/kit";
import type { InferMetrics } from "./metrics.ts";
import type { ModelSlot } from "./model-slot.ts";
import { PassStepError, scorePass, type PassDeps, type PassResult, type PassSettings } from "./pass.ts";

/** Durable name of the infer tick consumer: every ml-infer of a namespace shares it. */
export const INFER_DURABLE = "ml-infer";

/**
 * Deliveries of one infer tick. A tick asks "score what is new": after a few failed attempts the next window's tick
 * takes over, and it scores what this one left (the cursor has not moved).
 */
export const INFER_MAX_DELIVERIES = 5;

export interface InferenceTuning {
  /** Delay before a failed pass's tick is delivered again, growing with the delivery count. */
  retry: BackoffPolicy;
}

export const DEFAULT_INFERENCE_TUNING: InferenceTuning = { retry: { initialMs: 5_000, maxMs: 60_000 } };

export interface InferenceOptions {
  nc: NatsConnection;
  names: NatsNames;
  slot: ModelSlot;
  pass: PassDeps;
  settings: PassSettings;
  log: Logger;
  metrics: InferMetrics;
  /** ML_INFER_ACK_WAIT_SECONDS in ms. */
  ackWaitMs: number;
  tuning?: Partial<InferenceTuning>;
}

/** Runs tasks one after another: a model is never swapped (and released) under a batch being scored. */
function serialQueue(): <T>(task: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return (task) => {
    const run = tail.then(task);
    tail = run.catch(() => {});
    return run;
  };
}

/**
 * ml-infer's work: a scoring pass once at start, on each infer tick (from the shared durable consumer, one at a
 * time, kept claimed with in-progress acks), and right after a reload on `ml.model.published`. Each pass first
 * re-reads the model pointer (cheap when it still names the model in use). A failed pass hands its tick back for a
 * later delivery; a tick with a newer one behind it is acknowledged without a pass (the newer one does the work).
 */
export async function startInference(options: InferenceOptions): Promise<ServiceLifecycle> {
  const { nc, names, slot, settings, log, metrics, ackWaitMs } = options;
  const tuning = { ...DEFAULT_INFERENCE_TUNING, ...options.tuning };
  const exclusive = serialQueue();
  const stopping = new AbortController();

  /** Reloads if the pointer moved, then scores what is new; throws a PassStepError when the pass fails. */
  const work = (trigger: string) =>
    exclusive(async (): Promise<PassResult | null> => {
      if (stopping.signal.aborted) return null;
      await slot.refresh(trigger);
      const model = slot.current;
      if (!model) return null;
      const result = await scorePass(options.pass, settings, model);
      if (result.scored > 0) {
        log.info({ ...result, trigger }, `scored ${result.scored} embedding${result.scored === 1 ? "" : "s"} with model ${result.version}`);
      }
      return result;
    });

  const reportPassFailure = (error: unknown, fields: Record<string, unknown>, text: string) => {
    const step = error instanceof PassStepError ? error.step : "other";
    metrics.passFailures.inc({ step });
    log.warn({ ...fields, step, err: error }, `${text}: ${(error as Error).message}`);
  };

  const jsm = await jetstreamManager(nc);
  const consumerAction = await ensureTickConsumer(jsm, names, "infer", {
    durable: INFER_DURABLE,
    ackWaitMs,
    maxDeliver: INFER_MAX_DELIVERIES,
  });

  // Core subscription: a published event missed while down is made up for by the pass at start and at each tick.
  const published: Subscription = nc.subscribe(names.subjects.modelPublished);
  const following = (async () => {
    for await (const msg of published) {
      // The pointer is what counts: an announcement that cannot be read still triggers a reload.
      let announced: string | null = null;
      try {
        announced = modelPublishedEventSchema.parse(msg.json()).version;
      } catch {
        log.warn({ subject: msg.subject }, "ml.model.published message is not a published-model event; reloading anyway");
      }
      log.info({ announced }, "ml.model.published: reloading");
      await work("published").catch((error: unknown) => reportPassFailure(error, { trigger: "published" }, "scoring after a reload failed"));
    }
  })();

  await work("start").catch((error: unknown) => reportPassFailure(error, { trigger: "start" }, "scoring at start failed"));

  const consumer = await jetstream(nc).consumers.get(names.streams.mlTicks, INFER_DURABLE);
  const messages: ConsumerMessages = await consumer.consume({ max_messages: 1 });
  log.info({ stream: names.streams.mlTicks, durable: INFER_DURABLE, consumer: consumerAction }, "waiting for infer ticks");
  async function handle(msg: JsMsg, { handBack }: TickHandling): Promise<void> {
    const decoded = decodeTickMessage(msg.subject, msg.data);
    if (!decoded.ok) {
      log.warn({ subject: msg.subject, seq: msg.seq, reason: decoded.reason }, "not an infer tick: terminated");
      // No reason text: NATS 2.9 takes only a bare "+TERM" as a termination.
      msg.term();
      return;
    }
    const tick = decoded.tick;
    const fields = { window_start: tick.window_start, delivery: msg.info.deliveryCount };
    // The consumer's pending count is no help here: NATS 2.9 counts one per subject for a last-per-subject consumer.
    const newest = await jsm.direct.getMessage(names.streams.mlTicks, { last_by_subj: msg.subject }).catch(() => null);
    if (newest && newest.seq > msg.seq) {
      log.debug({ ...fields, newest: newest.seq }, "infer tick superseded by a newer one: acknowledged");
      msg.ack();
      return;
    }
    const claim = setInterval(() => msg.working(), Math.max(100, Math.floor(ackWaitMs / 3)));
    try {
      await work(`tick ${new Date(tick.window_start).toISOString()}`);
      msg.ack();
    } catch (error) {
      // stop() aborts `stopping` before it stops taking ticks: this covers the tick's own signal too.
      if (stopping.signal.aborted) {
        handBack(msg);
        return;
      }
      const delivery = msg.info.deliveryCount;
      if (delivery >= INFER_MAX_DELIVERIES) {
        reportPassFailure(error, fields, `infer tick given up after ${delivery} deliveries; the next tick scores what it left`);
        msg.term();
      } else {
        reportPassFailure(error, fields, "scoring pass failed; the tick will be delivered again");
        msg.nak(backoffDelayMs(delivery - 1, tuning.retry));
      }
    } finally {
      clearInterval(claim);
    }
  }

  const ticks = takeTicksInTurn(messages, handle, "infer tick");

  let stopped: Promise<void> | null = null;
  return {
    ready: Promise.resolve(),
    done: ticks.done,
    stop: () =>
      (stopped ??= (async () => {
        stopping.abort(new Error("ml-infer stopping"));
        published.unsubscribe();
        await Promise.all([ticks.stop(), following]);
        // Whatever was queued has seen the abort; the model is no longer in use.
        await exclusive(async () => {});
        log.info("ml-infer stopped");
      })()),
  };
}
