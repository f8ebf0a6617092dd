import { BAR_MS, EMBEDDING_DIM, FEATURE_VERSION } from "@gapfill/contracts";
import type { EmbeddingRow } from "@gapfill/kit";
import { seededWords } from "./random.ts";

export interface TestEmbeddingOptions {
  seed?: number;
  /** Values per embedding (default EMBEDDING_DIM). */
  dim?: number;
  /** Default FEATURE_VERSION; pass another tag with another dim. */
  featureVersion?: string;
  producer?: string;
}

/**
 * `count` embeddings of `symbol` at consecutive bar times from `fromTs`, whose values come from every corner of
 * float32 — random bit patterns, so subnormals, values near the largest float32 and both signs, plus 0 — and are
 * deterministic for a given `seed`, so a test can rebuild its ground truth; another seed gives other values.
 */
export function testEmbeddings(symbol: string, fromTs: number, count: number, options: TestEmbeddingOptions = {}): EmbeddingRow[] {
  const { seed = 1, dim = EMBEDDING_DIM, featureVersion = FEATURE_VERSION, producer = "test" } = options;
  const word = seededWords(seed);
  const bits = new Uint32Array(1);
  const value = new Float32Array(bits.buffer);
  const nextValue = () => {
    // Infinity and NaN are not embedding values: draw again.
    do bits[0] = word();
    while (!Number.isFinite(value[0]!));
    // The store keeps -0 as 0, as Postgres and JSON do.
    return value[0] === 0 ? 0 : value[0]!;
  };
  return Array.from({ length: count }, (_, i) => ({
    symbol,
    ts: fromTs + i * BAR_MS,
    embedding: Float32Array.from({ length: dim }, (_, k) => (k === (i + seed) % dim ? 0 : nextValue())),
    feature_version: featureVersion,
    producer,
  }));
}
