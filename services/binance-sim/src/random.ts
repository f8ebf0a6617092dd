import { createHash } from "node:crypto";
import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";

/** A seeded source of the draws the tape needs; the same seed always yields the same sequence. */
export interface Random {
  /** Uniform in [0, 1). */
  uniform(): number;
  /** Exponential with the given mean. */
  exponential(mean: number): number;
  /** Standard normal. */
  normal(): number;
  /** Uniform integer in [from, to]. */
  integer(from: number, to: number): number;
  chance(probability: number): boolean;
}

export function seededRandom(seed: number): Random {
  const rng = xoroshiro128plus(seed);
  const uniform = () => uniformFloat64(rng);
  return {
    uniform,
    exponential: (mean) => -Math.log(1 - uniform()) * mean,
    // Box-Muller; 1 - u keeps the logarithm finite.
    normal: () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform()),
    integer: (from, to) => from + Math.floor(uniform() * (to - from + 1)),
    chance: (probability) => uniform() < probability,
  };
}

/** A 32-bit seed derived from the parts (e.g. the run's seed and a symbol), stable across runs and platforms. */
export function deriveSeed(...parts: (string | number)[]): number {
  return createHash("sha256").update(parts.join("\u0000")).digest().readInt32LE(0);
}

/**
 * A reproducible uniform draw in [0, 1) for one integer key under a seed (splitmix32 finaliser): per-id fault
 * decisions that do not depend on the order or the time they are asked in.
 */
export function keyedUniform(seed: number, key: number): number {
  let h = (seed ^ Math.imul(key >>> 0, 0x9e3779b9) ^ Math.floor(key / 2 ** 32)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x21f0aaad);
  h = Math.imul(h ^ (h >>> 15), 0x735a2d97);
  return ((h ^ (h >>> 15)) >>> 0) / 2 ** 32;
}
