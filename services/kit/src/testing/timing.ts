import { performance } from "node:perf_hooks";

export interface Timing {
  runs: number;
  p50: number;
  p99: number;
  min: number;
}

/** The q-quantile (0..1) of already sorted samples, nearest-rank. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new Error("no samples");
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/**
 * Times `runs` calls of `fn` (ms each) after `warmup` untimed ones — for benchmarks, which report medians and
 * ratios on a noisy machine rather than single figures. `fn` gets the run's index.
 */
export async function timeRuns(fn: (run: number) => Promise<unknown>, { runs, warmup = 0 }: { runs: number; warmup?: number }): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await fn(i);
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn(warmup + i);
    samples.push(performance.now() - start);
  }
  samples.sort((a, b) => a - b);
  return { runs, p50: quantile(samples, 0.5), p99: quantile(samples, 0.99), min: samples[0]! };
}
