import { performance } from "node:perf_hooks";

/**
 * The simulated clock: `anchor + elapsed wall time × speed`, in whole epoch milliseconds. Monotonic (it runs on
 * the performance timer, not on Date), so a wall-clock step never moves the market backwards.
 */
export function simClock(anchorMs: number, speed: number, wallElapsed: () => number = monotonicSince(performance.now())): () => number {
  return () => Math.floor(anchorMs + wallElapsed() * speed);
}

function monotonicSince(start: number): () => number {
  return () => performance.now() - start;
}
