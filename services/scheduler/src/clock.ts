import { setTimeout as sleep } from "node:timers/promises";

/** Where the scheduler reads the time and waits: the system clock in production, a hand-driven one in tests. */
export interface SchedulerClock {
  now(): number;
  /** Resolves after `ms`, or at once when `signal` is aborted (never rejects on abort). */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const systemClock: SchedulerClock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    sleep(Math.max(0, ms), undefined, { signal }).catch((error: unknown) => {
      if (!signal.aborted) throw error;
    }),
};
