import type { TrainingRow } from "@gapfill/contracts";
import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";

export interface SyntheticOptions {
  seed: number;
  count: number;
  dimension: number;
  startTs?: number;
}

/**
 * Seeded rows for two symbols, one 15 s bar apart per pair, whose label depends on the embedding: a rise is drawn
 * with probability sigmoid(4·(u·z) + 2·z0·z1) of the standardized features z, and the raw embedding is z scaled and
 * shifted per feature (so a trainer that skipped standardization would show it).
 */
export function syntheticRows(options: SyntheticOptions): TrainingRow[] {
  const { count, dimension } = options;
  const rng = xoroshiro128plus(options.seed);
  const uniform = () => uniformFloat64(rng);
  const normal = () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  const direction = Array.from({ length: dimension }, normal);
  const norm = Math.hypot(...direction);
  const scale = Array.from({ length: dimension }, () => 0.01 + 5 * uniform());
  const shift = Array.from({ length: dimension }, () => 100 * (uniform() - 0.5));
  const startTs = options.startTs ?? 1_700_000_000_000;
  return Array.from({ length: count }, (_, i) => {
    const z = Array.from({ length: dimension }, normal);
    const linear = z.reduce((sum, value, j) => sum + (value * direction[j]!) / norm, 0);
    const logit = 4 * linear + (dimension > 1 ? 2 * z[0]! * z[1]! : 0);
    return {
      symbol: i % 2 === 0 ? "BTCUSDT" : "ETHUSDT",
      ts: startTs + Math.floor(i / 2) * 15_000,
      embedding: z.map((value, j) => Math.fround(shift[j]! + scale[j]! * value)),
      label: uniform() < 1 / (1 + Math.exp(-logit)) ? 1 : 0,
    };
  });
}

/** The same rows with their labels permuted (seeded): embeddings that carry no information about the label. */
export function shuffledLabels(rows: readonly TrainingRow[], seed: number): TrainingRow[] {
  const rng = xoroshiro128plus(seed);
  const labels = rows.map((row) => row.label);
  for (let i = labels.length - 1; i > 0; i--) {
    const k = Math.floor(uniformFloat64(rng) * (i + 1));
    [labels[i], labels[k]] = [labels[k]!, labels[i]!];
  }
  return rows.map((row, i) => ({ ...row, label: labels[i]! }));
}
