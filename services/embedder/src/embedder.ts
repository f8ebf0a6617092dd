import { setTimeout as sleep } from "node:timers/promises";
import { jetstream, jetstreamManager, type JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  BAR_MS,
  BUILTIN_PRODUCER,
  embeddingWindowStart,
  FEATURE_VERSION,
  isEmbeddingBar,
  natsNames,
  type ClosedBar,
  type EmbedderConfig,
} from "@gapfill/contracts";
import {
  backoffDelayMs,
  decodeBarMessage,
  ensureBarConsumer,
  StoreInputError,
  type BackoffPolicy,
  type EmbeddingInput,
  type EmbeddingStore,
  type Logger,
  type Registry,
  type ServiceLifecycle,
} from "@gapfill/kit";
import { SymbolBars, type BarRun } from "./bar-runs.ts";
import { MessageBatches } from "./batches.ts";
import { featurize, FeatureWindowError } from "./featurize.ts";
import { readBarsBefore } from "./history.ts";
import { createEmbedderMetrics } from "./metrics.ts";

/** Durable name of the embedder's consumer of the bars stream, apart from the recorder's. */
export const EMBEDDER_DURABLE = "embedder";

export interface EmbedderTuning {
  /** Bars pulled and embedded per batch; their rows are committed before any of them is acknowledged. */
  batchBars: number;
  /** Rows per upsert. */
  upsertRows: number;
  /** How long a batch waits for more bars while the stream still holds some for the embedder. */
  lingerMs: number;
  /** How often a catch-up on a backlog reports its progress. */
  progressIntervalMs: number;
  retry: BackoffPolicy;
}

export const DEFAULT_EMBEDDER_TUNING: EmbedderTuning = {
  batchBars: 2000,
  upsertRows: 500,
  lingerMs: 100,
  progressIntervalMs: 5000,
  retry: { initialMs: 250, maxMs: 15_000 },
};

export interface EmbedderDeps {
  config: Pick<EmbedderConfig, "NATS_NAMESPACE" | "EMBED_EVERY_BARS" | "EMBED_WINDOW_BARS" | "EMBEDDER_ACK_WAIT_MS">;
  nc: NatsConnection;
  store: EmbeddingStore;
  log: Logger;
  registry: Registry;
  tuning?: Partial<EmbedderTuning>;
}

type DeliveredBar = { msg: JsMsg; bar: ClosedBar };

/**
 * Bars stream → `ai_outputs`. Takes closed bars in batches from its own durable consumer; for each bar where
 * isEmbeddingBar(ts, EMBED_EVERY_BARS) whose full window of EMBED_WINDOW_BARS bars is known, computes `featurize`
 * and upserts the row (producer BUILTIN_PRODUCER, FEATURE_VERSION); acknowledges a batch's bars only after its rows
 * are committed. The windows live in memory (SymbolBars); what a window needs from before the delivered bars (after
 * a start, a restart, redeliveries) is read from the stream by sequence. Replays rewrite the same rows.
 */
export async function startEmbedder(deps: EmbedderDeps): Promise<ServiceLifecycle> {
  const { config, store, log } = deps;
  const tuning = { ...DEFAULT_EMBEDDER_TUNING, ...deps.tuning };
  const every = config.EMBED_EVERY_BARS;
  const windowBars = config.EMBED_WINDOW_BARS;
  const names = natsNames(config.NATS_NAMESPACE);
  const metrics = createEmbedderMetrics(deps.registry);
  const jsm = await jetstreamManager(deps.nc);
  const consumerAction = await ensureBarConsumer(jsm, names, EMBEDDER_DURABLE, {
    ackWaitMs: config.EMBEDDER_ACK_WAIT_MS,
    // One batch being embedded and the acknowledgements of the one before still on their way.
    maxAckPending: 2 * tuning.batchBars,
  });
  const consumer = await jetstream(deps.nc).consumers.get(names.streams.bars, EMBEDDER_DURABLE);
  const messages = await consumer.consume({ max_messages: tuning.batchBars });
  const batches = new MessageBatches(messages, tuning.batchBars, tuning.lingerMs);
  log.info(
    { stream: names.streams.bars, durable: EMBEDDER_DURABLE, consumer: consumerAction, everyBars: every, windowBars, featureVersion: FEATURE_VERSION },
    "embedding bars",
  );

  const stopping = new AbortController();
  const { signal } = stopping;
  const symbols = new Map<string, SymbolBars>();
  /** The batch being embedded, until it is acknowledged. */
  let embedding: JsMsg[] = [];

  /** The window ending at `ts` from the bar's run, reading what the run lacks from the stream when it may exist. */
  async function windowOf(symbol: string, run: BarRun, ts: number): Promise<readonly ClosedBar[] | null> {
    const window = run.window(ts, windowBars);
    const windowStart = embeddingWindowStart(ts, windowBars);
    if (window || run.startsSeries || run.firstTs <= windowStart) return window;
    const missing = (run.firstTs - windowStart) / BAR_MS;
    const beforeSeq = run.firstSeq;
    // Every symbol's bars interleave in the stream: look back about as many messages per missing bar.
    const older = await readBarsBefore(jsm, names, symbol, beforeSeq, windowStart, Math.ceil(missing * symbols.size * 1.25) + 16);
    metrics.historyReads.inc();
    run.prepend(older, windowStart);
    log.info({ symbol, beforeSeq, read: older.length, startsSeries: run.startsSeries }, "read the bars before a window from the stream");
    return run.window(ts, windowBars);
  }

  async function embeddingsOf(delivered: readonly DeliveredBar[]): Promise<EmbeddingInput[]> {
    const rows: EmbeddingInput[] = [];
    for (const { msg, bar } of delivered) {
      let bars = symbols.get(bar.symbol);
      if (!bars) symbols.set(bar.symbol, (bars = new SymbolBars(windowBars)));
      const run = bars.add({ bar, seq: msg.seq });
      if (!isEmbeddingBar(bar.ts, every)) continue;
      const window = await windowOf(bar.symbol, run, bar.ts);
      if (window) {
        rows.push({ symbol: bar.symbol, ts: bar.ts, embedding: featurize(window), producer: BUILTIN_PRODUCER, feature_version: FEATURE_VERSION });
      }
    }
    return rows;
  }

  async function writeRows(rows: readonly EmbeddingInput[]): Promise<void> {
    for (let start = 0; start < rows.length; start += tuning.upsertRows) {
      const chunk = rows.slice(start, start + tuning.upsertRows);
      const startedAt = performance.now();
      await store.upsertEmbeddings(chunk);
      metrics.upsertSeconds.observe((performance.now() - startedAt) / 1000);
    }
  }

  /**
   * Runs `step` until it succeeds, with backoff; null when a stop interrupts the retries. Errors that no retry can
   * fix (a window or row the code got wrong) end the embedder.
   */
  async function withRetry<T>(what: string, step: () => Promise<T>, onFailure?: () => void): Promise<T | null> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await step();
      } catch (error) {
        if (error instanceof StoreInputError || error instanceof FeatureWindowError) throw error;
        onFailure?.();
        if (signal.aborted) return null;
        const delayMs = backoffDelayMs(attempt, tuning.retry);
        log.warn({ err: error, attempt: attempt + 1, delayMs }, `${what} failed; retrying (the bars stay in JetStream)`);
        await sleep(delayMs, undefined, { signal }).catch(() => {});
        if (signal.aborted) return null;
      }
    }
  }

  const progress = { written: 0, startedAt: 0, reportedAt: 0 };
  function report(written: number, pending: number): void {
    const now = Date.now();
    if (progress.startedAt === 0) {
      if (pending <= tuning.batchBars) return;
      Object.assign(progress, { written: 0, startedAt: now, reportedAt: now });
      log.info({ backlog: pending }, "embedding a backlog of bars");
    }
    progress.written += written;
    const seconds = Math.max(0.001, (now - progress.startedAt) / 1000);
    if (pending === 0) {
      log.info({ embeddings: progress.written, seconds: Math.round(seconds * 10) / 10, perSecond: Math.round(progress.written / seconds) }, "caught up with the stream");
      progress.startedAt = 0;
    } else if (now - progress.reportedAt >= tuning.progressIntervalMs) {
      progress.reportedAt = now;
      log.info({ embeddings: progress.written, pending, perSecond: Math.round(progress.written / seconds) }, "embedding the backlog");
    }
  }

  /** Embeds one batch and acknowledges it; false when a stop came first (the batch is then handed back). */
  async function embedBatch(batch: readonly JsMsg[]): Promise<boolean> {
    const delivered: DeliveredBar[] = [];
    for (const msg of batch) {
      const decoded = decodeBarMessage(msg.subject, msg.data);
      if (decoded.ok) {
        delivered.push({ msg, bar: decoded.bar });
        continue;
      }
      log.warn({ subject: msg.subject, seq: msg.seq, reason: decoded.reason }, "not a closed bar: terminated");
      // No reason text: NATS 2.9 takes only a bare "+TERM" as a termination (reasons came with 2.10.4).
      msg.term();
      metrics.invalidMessages.inc();
    }
    embedding = delivered.map(({ msg }) => msg);
    const rows = await withRetry("reading bars from the stream", () => embeddingsOf(delivered));
    if (rows === null || (await withRetry("embeddings upsert", () => writeRows(rows), () => metrics.writeFailures.inc())) === null) return false;
    for (const { msg } of delivered) msg.ack();
    embedding = [];
    const perSymbol = new Map<string, number>();
    for (const row of rows) {
      perSymbol.set(row.symbol, (perSymbol.get(row.symbol) ?? 0) + 1);
      metrics.newestTs.set(row.symbol, Math.max(row.ts, metrics.newestTs.get(row.symbol) ?? row.ts));
    }
    for (const [symbol, count] of perSymbol) metrics.embeddingsWritten.inc({ symbol }, count);
    const pending = batch[batch.length - 1]!.info.pending;
    metrics.backlog.set(pending);
    report(rows.length, pending);
    return true;
  }

  // Bars delivered and not yet acknowledged are claimed again every third of the ack wait, so JetStream never
  // hands them to a later embedder while this one still works on them (a slow or failing store).
  const claimTimer = setInterval(() => {
    for (const msg of embedding) msg.working();
    for (const msg of batches.queued) msg.working();
  }, Math.max(100, Math.floor(config.EMBEDDER_ACK_WAIT_MS / 3)));

  const embeddingAll = (async () => {
    for (let batch = await batches.next(signal); batch; batch = await batches.next(signal)) {
      if (!(await embedBatch(batch))) return;
    }
  })();
  const running = Promise.all([embeddingAll, batches.reading]).then(() => {
    if (!signal.aborted) throw new Error("the bar subscription ended on its own");
  });
  running.catch(() => {});

  /** Hands back what was delivered and not embedded, so it is delivered again now rather than after the ack wait. */
  async function handBack(): Promise<void> {
    await messages.close();
    await embeddingAll.catch(() => {});
    clearInterval(claimTimer);
    for (const msg of [...embedding, ...batches.queued]) msg.nak();
    embedding = [];
  }

  let stopped: Promise<void> | null = null;
  return {
    ready: Promise.resolve(),
    done: running,
    stop: () =>
      (stopped ??= (async () => {
        stopping.abort(new Error("embedder stopping"));
        await handBack();
        await running.catch(() => {});
        log.info("embedder stopped");
      })()),
  };
}
