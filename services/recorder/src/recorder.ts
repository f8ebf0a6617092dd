import { setTimeout as sleep } from "node:timers/promises";
import { jetstream, jetstreamManager, type ConsumerMessages, type JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { natsNames, type ClosedBar, type RecorderConfig } from "@gapfill/contracts";
import { backoffDelayMs, decodeBarMessage, ensureBarConsumer, type BackoffPolicy, type DecodedBar, type BarStore, type Logger, type Registry, type ServiceLifecycle } from "@gapfill/kit";
import { RECORDER_DURABLE } from "./consumer.ts";
import { measureLag, type SymbolLag } from "./lag.ts";
import { createRecorderMetrics } from "./metrics.ts";
import { CatchUpProgress } from "./progress.ts";

export interface RecorderTuning {
  /** How often lag is measured (metrics); a log line at most every lagLogIntervalMs. */
  lagIntervalMs: number;
  lagLogIntervalMs: number;
  /** How often a bulk catch-up reports its progress. */
  progressIntervalMs: number;
  retry: BackoffPolicy;
}

export const DEFAULT_TUNING: RecorderTuning = {
  lagIntervalMs: 5_000,
  lagLogIntervalMs: 60_000,
  progressIntervalMs: 5_000,
  retry: { initialMs: 250, maxMs: 15_000 },
};

export interface RecorderDeps {
  config: Pick<RecorderConfig, "NATS_NAMESPACE" | "BINANCE_SYMBOL" | "RECORDER_BATCH_SIZE" | "RECORDER_BATCH_MS" | "RECORDER_ACK_WAIT_MS">;
  nc: NatsConnection;
  store: BarStore;
  log: Logger;
  registry: Registry;
  tuning?: Partial<RecorderTuning>;
  random?: () => number;
}

/**
 * `ready`: the durable consumer is set up and bars flow; `done`: resolves after stop(), rejects if the bar
 * subscription failed on its own. stop() stops pulling, lets the batch being written finish (or gives it up while the
 * store is down) and hands back the rest. The store stays the caller's.
 */
export interface RunningRecorder extends ServiceLifecycle {
  /** Measures the table's lag behind the stream now (also done every lagIntervalMs). */
  measureLag(): Promise<SymbolLag[]>;
}

/** A delivered message, decoded as it arrives so decoding overlaps the upsert of the batch before. */
type Held = { msg: JsMsg; decoded: DecodedBar; receivedAt: number; touchedAt: number };

/**
 * Consumes `bars.15s.*` through a durable pull consumer and upserts the bars in batches bounded by
 * RECORDER_BATCH_SIZE bars and RECORDER_BATCH_MS after a batch's first bar; each message is acknowledged only after
 * the upsert that contains it has committed. While the store fails it retries with backoff and keeps its bars
 * claimed (`working`), so JetStream neither redelivers them nor loses them.
 */
export async function startRecorder(deps: RecorderDeps): Promise<RunningRecorder> {
  const { config, store, log } = deps;
  const tuning = { ...DEFAULT_TUNING, ...deps.tuning };
  const random = deps.random ?? Math.random;
  const batchSize = config.RECORDER_BATCH_SIZE;
  const names = natsNames(config.NATS_NAMESPACE);
  const metrics = createRecorderMetrics(deps.registry);
  const jsm = await jetstreamManager(deps.nc);
  const consumerAction = await ensureBarConsumer(jsm, names, RECORDER_DURABLE, {
    ackWaitMs: config.RECORDER_ACK_WAIT_MS,
    maxAckPending: 2 * batchSize,
  });
  const consumer = await jetstream(deps.nc).consumers.get(names.streams.bars, RECORDER_DURABLE);
  const messages: ConsumerMessages = await consumer.consume({ max_messages: batchSize });
  log.info({ stream: names.streams.bars, durable: RECORDER_DURABLE, consumer: consumerAction, batchSize, batchMs: config.RECORDER_BATCH_MS }, "recording bars");

  const symbols = new Set(config.BINANCE_SYMBOL);
  const progress = new CatchUpProgress(2 * batchSize, tuning.progressIntervalMs);
  /** Delivered and neither acknowledged nor terminated yet: the batch being written and the next one filling. */
  const held = new Map<JsMsg, Held>();
  const queue: Held[] = [];
  /** Aborted by stop(): the writer loop ends after its batch, and a backoff pause ends at once. */
  const stopping = new AbortController();
  let subscriptionEnded = false;
  let wake: (() => void) | null = null;
  const notify = () => {
    const resolve = wake;
    wake = null;
    resolve?.();
  };
  /** Until something changes (a message, the end, stop) or `ms` pass. */
  const signal = (ms?: number) =>
    new Promise<void>((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(notify, Math.max(0, ms));
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  /** A backoff pause: only stop() cuts it short, not arriving bars. */
  const pause = (ms: number) => sleep(ms, undefined, { signal: stopping.signal }).catch(() => undefined);

  const reading = (async () => {
    for await (const msg of messages) {
      const now = Date.now();
      const entry = { msg, decoded: decodeBarMessage(msg.subject, msg.data), receivedAt: now, touchedAt: now };
      held.set(msg, entry);
      queue.push(entry);
      if (queue.length === 1 || queue.length >= batchSize) notify();
    }
  })().finally(() => {
    subscriptionEnded = true;
    notify();
  });

  // Bars held longer than a third of the ack wait are claimed again, so a slow or failing store never lets
  // JetStream hand them to another recorder while this one still holds them.
  const claimEveryMs = Math.max(100, Math.floor(config.RECORDER_ACK_WAIT_MS / 3));
  const claimTimer = setInterval(() => {
    const now = Date.now();
    for (const entry of held.values()) {
      if (now - entry.touchedAt >= claimEveryMs) {
        entry.msg.working();
        entry.touchedAt = now;
      }
    }
  }, claimEveryMs);

  async function writeWithRetry(bars: ClosedBar[]): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      const startedAt = performance.now();
      try {
        await store.upsertBars(bars);
        metrics.upsertSeconds.observe((performance.now() - startedAt) / 1000);
        metrics.storeUp.set(1);
        if (attempt > 0) log.info({ attempts: attempt + 1, bars: bars.length }, "store write succeeded after retries");
        return true;
      } catch (error) {
        metrics.writeFailures.inc();
        metrics.storeUp.set(0);
        if (stopping.signal.aborted) return false;
        const delayMs = backoffDelayMs(attempt, tuning.retry, random);
        log.warn({ err: error, attempt: attempt + 1, delayMs, bars: bars.length }, "store write failed; retrying (bars stay in JetStream)");
        await pause(delayMs);
        if (stopping.signal.aborted) return false;
      }
    }
  }

  async function recordBatch(batch: Held[]): Promise<boolean> {
    const bars: ClosedBar[] = [];
    const valid: JsMsg[] = [];
    for (const { msg, decoded } of batch) {
      if (!decoded.ok) {
        log.warn({ subject: msg.subject, seq: msg.seq, reason: decoded.reason }, "not a closed bar: terminated");
        // No reason text: NATS 2.9 takes only a bare "+TERM" as a termination (reasons came with 2.10.4).
        msg.term();
        held.delete(msg);
        metrics.invalidMessages.inc();
        continue;
      }
      bars.push(decoded.bar);
      valid.push(msg);
    }
    if (bars.length > 0 && !(await writeWithRetry(bars))) return false;
    for (const msg of valid) {
      msg.ack();
      held.delete(msg);
    }
    const perSymbol = new Map<string, number>();
    for (const bar of bars) perSymbol.set(bar.symbol, (perSymbol.get(bar.symbol) ?? 0) + 1);
    for (const [symbol, count] of perSymbol) {
      metrics.barsRecorded.inc({ symbol }, count);
      symbols.add(symbol);
      // Gateways waiting for these rows read the table again now rather than after their fallback delay.
      deps.nc.publish(names.subjects.recorded(symbol));
    }
    metrics.batches.inc();
    const pending = batch[batch.length - 1]!.msg.info.pending;
    metrics.backlog.set(pending);
    const event = progress.observe(batch.length, pending, Date.now());
    if (event?.kind === "started") log.info({ backlog: event.backlog }, "catching up on a backlog of bars");
    else if (event?.kind === "progress") {
      log.info({ percent: event.percent, recorded: event.recorded, pending: event.pending, barsPerSecond: Math.round(event.barsPerSecond), etaSeconds: Math.round(event.etaSeconds) }, `catch-up ${event.percent}%`);
    } else if (event?.kind === "finished") {
      log.info({ recorded: event.recorded, seconds: Math.round(event.seconds * 10) / 10, barsPerSecond: Math.round(event.barsPerSecond) }, "caught up with the stream");
    }
    return true;
  }

  const writing = (async () => {
    while (!stopping.signal.aborted) {
      if (queue.length === 0) {
        if (subscriptionEnded) return;
        await signal();
        continue;
      }
      const deadline = queue[0]!.receivedAt + config.RECORDER_BATCH_MS;
      while (!stopping.signal.aborted && !subscriptionEnded && queue.length < batchSize && Date.now() < deadline) {
        await signal(deadline - Date.now());
      }
      if (stopping.signal.aborted) return;
      if (!(await recordBatch(queue.splice(0, batchSize)))) return;
    }
  })();

  let lastLagLogAt = 0;
  async function checkLag(): Promise<SymbolLag[]> {
    const lags = await measureLag(jsm, names, store, symbols);
    for (const lag of lags) metrics.lagSeconds.set({ symbol: lag.symbol }, lag.lagMs / 1000);
    const now = Date.now();
    if (now - lastLagLogAt >= tuning.lagLogIntervalMs) {
      lastLagLogAt = now;
      log.info({ lag: lags.map((l) => ({ symbol: l.symbol, lagSeconds: l.lagMs / 1000, streamLastTs: l.streamLastTs, tableLastTs: l.tableLastTs })) }, "table lag behind the stream");
    }
    return lags;
  }
  // One check at a time: during an outage a check can take longer than the interval, and must not pile up.
  let lagCheckRunning = false;
  const lagTimer = setInterval(() => {
    if (lagCheckRunning) return;
    lagCheckRunning = true;
    checkLag()
      .catch((error: unknown) => {
        metrics.storeUp.set(0);
        log.debug({ err: error }, "lag check failed");
      })
      .finally(() => {
        lagCheckRunning = false;
      });
  }, tuning.lagIntervalMs);

  const done = Promise.all([reading, writing]).then(() => {
    if (!stopping.signal.aborted) throw new Error("the bar subscription ended on its own");
  });
  done.catch(() => {});

  let stopped: Promise<void> | null = null;
  return {
    ready: Promise.resolve(),
    done,
    measureLag: checkLag,
    stop: () =>
      (stopped ??= (async () => {
        stopping.abort();
        clearInterval(lagTimer);
        notify();
        await messages.close();
        await writing;
        clearInterval(claimTimer);
        // Hand back what was not written, so another recorder gets it now rather than after the ack wait.
        for (const { msg } of held.values()) msg.nak();
        held.clear();
        await reading.catch(() => {});
        log.info("recorder stopped");
      })()),
  };
}
