import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  natsNames,
  nextTickWindowStart,
  tickWindowStart,
  TICK_KINDS,
  type SchedulerConfig,
  type TickEvent,
  type TickKind,
} from "@gapfill/contracts";
import { backoffDelayMs, type BackoffPolicy, type Logger, type Registry, type ServiceLifecycle } from "@gapfill/kit";
import { systemClock, type SchedulerClock } from "./clock.ts";
import { createSchedulerMetrics } from "./metrics.ts";
import { publishTickOnce } from "./publish-tick.ts";

export interface SchedulerDeps {
  config: Pick<SchedulerConfig, "NATS_NAMESPACE" | "ML_INTERVAL_SECONDS" | "INFER_INTERVAL_SECONDS">;
  nc: NatsConnection;
  log: Logger;
  registry: Registry;
  clock?: SchedulerClock;
  /** Backoff between failed attempts to tick a window (NATS unreachable, stream missing). */
  retry?: BackoffPolicy;
}

const DEFAULT_RETRY: BackoffPolicy = { initialMs: 500, maxMs: 10_000 };
/**
 * Longest single wait: a wall clock that jumps forward (NTP, a resumed VM) is noticed within this long, not only at
 * the boundary computed before the jump. Waking inside a window already ticked costs nothing (no NATS request).
 */
const MAX_WAIT_MS = 60_000;

/**
 * Ticks `ml.tick.retrain` every ML_INTERVAL_SECONDS and `ml.tick.infer` every INFER_INTERVAL_SECONDS, windows aligned
 * to the epoch. For each kind it ticks the current window at start and then at each window boundary, waiting with one
 * timer per boundary (recomputed from the clock each time). Only the current window is ever ticked: after downtime
 * one catch-up tick, never one per missed window. `ready` resolves once each kind's current window is ticked.
 */
export async function startScheduler(deps: SchedulerDeps): Promise<ServiceLifecycle> {
  const { config, log } = deps;
  const clock = deps.clock ?? systemClock;
  const retry = deps.retry ?? DEFAULT_RETRY;
  const names = natsNames(config.NATS_NAMESPACE);
  const js = jetstream(deps.nc);
  const jsm = await jetstreamManager(deps.nc);
  const metrics = createSchedulerMetrics(deps.registry);
  const intervals: Record<TickKind, number> = { retrain: config.ML_INTERVAL_SECONDS, infer: config.INFER_INTERVAL_SECONDS };
  const stopping = new AbortController();
  const { signal } = stopping;

  async function tickWindow(kind: TickKind, windowStart: number): Promise<void> {
    const tick: TickEvent = { kind, window_start: windowStart, interval_s: intervals[kind] };
    const result = await publishTickOnce(js, jsm, names, tick);
    if (result.malformedLast) {
      log.warn({ kind, ...result.malformedLast }, "the subject's last message was not a tick; published after it");
    }
    (result.outcome === "published" ? metrics.published : metrics.skipped).inc({ kind });
    metrics.lastWindow.set({ kind }, windowStart / 1000);
    log.info(
      { kind, window_start: windowStart, window: new Date(windowStart).toISOString(), interval_s: tick.interval_s, outcome: result.outcome, seq: result.seq },
      `${kind} tick ${result.outcome}`,
    );
  }

  async function follow(kind: TickKind, onFirstTick: () => void): Promise<void> {
    const intervalS = intervals[kind];
    let ticked: number | null = null;
    let failures = 0;
    while (!signal.aborted) {
      const windowStart = tickWindowStart(clock.now(), intervalS);
      if (windowStart !== ticked) {
        try {
          await tickWindow(kind, windowStart);
          ticked = windowStart;
          failures = 0;
          onFirstTick();
        } catch (error) {
          if (signal.aborted) return;
          metrics.failures.inc({ kind });
          const delayMs = backoffDelayMs(failures++, retry);
          log.warn({ err: error, kind, window_start: windowStart, attempt: failures, delayMs }, `${kind} tick failed; retrying`);
          await clock.sleep(delayMs, signal);
          continue;
        }
      }
      // Until the boundary after the window just ticked, not after "now": a boundary passed meanwhile is not skipped.
      await clock.sleep(Math.min(nextTickWindowStart(windowStart, intervalS) - clock.now(), MAX_WAIT_MS), signal);
    }
  }

  log.info({ retrain_interval_s: intervals.retrain, infer_interval_s: intervals.infer, stream: names.streams.mlTicks }, "scheduling ML ticks");
  const firstTicked: (() => void)[] = [];
  const ready = Promise.all(TICK_KINDS.map(() => new Promise<void>((resolve) => firstTicked.push(resolve)))).then(() => {});
  const following = Promise.all(TICK_KINDS.map((kind, i) => follow(kind, firstTicked[i]!)));
  let stopped: Promise<void> | null = null;
  return {
    ready,
    done: following.then(() => {}),
    stop: () =>
      (stopped ??= (async () => {
        stopping.abort(new Error("scheduler stopping"));
        await following;
        log.info("scheduler stopped");
      })()),
  };
}
