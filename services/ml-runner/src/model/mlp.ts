/**
 * The scoring network: prob_up = sigmoid(w2 · relu(W1 x + b1) + b2), on raw embeddings (input standardization is
 * folded into W1 and b1). Weights are float32, as exported to ONNX.
 */
export interface Mlp {
  readonly dimension: number;
  readonly hidden: number;
  /** hidden × dimension, row-major: ONNX Gemm's B with transB = 1. */
  readonly w1: Float32Array;
  readonly b1: Float32Array;
  /** 1 × hidden. */
  readonly w2: Float32Array;
  /** One value. */
  readonly b2: Float32Array;
}

export function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}

/** prob_up for each row of a count × dimension row-major matrix of embeddings. */
export function predict(model: Mlp, embeddings: Float32Array): Float32Array {
  const { dimension, hidden, w1, b1, w2, b2 } = model;
  if (embeddings.length % dimension !== 0) {
    throw new RangeError(`embeddings hold ${embeddings.length} numbers, not a multiple of the dimension ${dimension}`);
  }
  const count = embeddings.length / dimension;
  const probabilities = new Float32Array(count);
  for (let row = 0; row < count; row++) {
    const x = row * dimension;
    let logit = b2[0]!;
    for (let h = 0; h < hidden; h++) {
      let z = b1[h]!;
      const w = h * dimension;
      for (let j = 0; j < dimension; j++) z += w1[w + j]! * embeddings[x + j]!;
      if (z > 0) logit += w2[h]! * z;
    }
    probabilities[row] = sigmoid(logit);
  }
  return probabilities;
}
