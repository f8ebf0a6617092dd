/** What the log says about a bulk catch-up; null when there is nothing new to say. */
export type CatchUpEvent =
  | { kind: "started"; backlog: number }
  | { kind: "progress"; percent: number; recorded: number; pending: number; barsPerSecond: number; etaSeconds: number }
  | { kind: "finished"; recorded: number; seconds: number; barsPerSecond: number };

/**
 * Follows a catch-up from the consumer's pending count after each batch: it starts when the backlog exceeds
 * `threshold`, reports at most every `intervalMs`, and finishes when nothing is pending. Pure: the caller passes
 * the clock.
 */
export class CatchUpProgress {
  private run: { startedAt: number; total: number; recorded: number; lastReportAt: number } | null = null;

  private readonly threshold: number;
  private readonly intervalMs: number;

  constructor(
    threshold: number,
    intervalMs: number,
  ) {
    this.threshold = threshold;
    this.intervalMs = intervalMs;
  }

  get catchingUp(): boolean {
    return this.run !== null;
  }

  /** After a batch of `recorded` messages, with `pending` still waiting in the stream for this consumer. */
  observe(recorded: number, pending: number, nowMs: number): CatchUpEvent | null {
    if (!this.run) {
      if (pending <= this.threshold) return null;
      this.run = { startedAt: nowMs, total: pending + recorded, recorded, lastReportAt: nowMs };
      return { kind: "started", backlog: pending + recorded };
    }
    const run = this.run;
    run.recorded += recorded;
    // New bars keep arriving during a catch-up: the backlog is what was recorded plus what is still pending.
    run.total = Math.max(run.total, run.recorded + pending);
    const seconds = Math.max(0.001, (nowMs - run.startedAt) / 1000);
    const barsPerSecond = run.recorded / seconds;
    if (pending === 0) {
      this.run = null;
      return { kind: "finished", recorded: run.recorded, seconds, barsPerSecond };
    }
    if (nowMs - run.lastReportAt < this.intervalMs) return null;
    run.lastReportAt = nowMs;
    return {
      kind: "progress",
      percent: Math.floor((run.recorded / run.total) * 1000) / 10,
      recorded: run.recorded,
      pending,
      barsPerSecond,
      etaSeconds: barsPerSecond > 0 ? pending / barsPerSecond : Number.POSITIVE_INFINITY,
    };
  }
}
