import { performance } from "node:perf_hooks";

/** Milliseconds per run of one benchmark case: benchmarks report medians and ratios on a noisy machine. */
export interface Timing {
  runs: number;
  p50: number;
  p99: number;
  min: number;
}

/** The q-quantile (0..1) of samples in any order, nearest-rank: the smallest sample with at least q of them at or below it. */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) throw new Error("no samples");
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export const median = (samples: readonly number[]): number => quantile(samples, 0.5);

/**
 * Times several cases in rotation (a, b, c, a, b, c, …) so a burst of load on a noisy machine hits them alike;
 * the ratios between them are then fairer than from back-to-back series.
 */
export async function timeInterleaved<K extends string>(
  cases: Record<K, (run: number) => Promise<unknown>>,
  { runs, warmup = 0 }: { runs: number; warmup?: number },
): Promise<Record<K, Timing>> {
  const names = Object.keys(cases) as K[];
  const samples = Object.fromEntries(names.map((name) => [name, [] as number[]])) as Record<K, number[]>;
  for (let i = 0; i < warmup + runs; i++) {
    for (const name of names) {
      const start = performance.now();
      await cases[name](i);
      if (i >= warmup) samples[name].push(performance.now() - start);
    }
  }
  return Object.fromEntries(
    names.map((name) => {
      const sorted = samples[name].sort((a, b) => a - b);
      return [name, { runs, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), min: sorted[0]! }];
    }),
  ) as Record<K, Timing>;
}
