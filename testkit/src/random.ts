/**
 * A seeded xorshift32 source of 32-bit words: the same seed gives the same sequence on every run, so a test can
 * rebuild its ground truth.
 */
export function seededWords(seed: number): () => number {
  let state = (seed * 2654435761) >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
}
