import type { TrainingHyperparameters } from "@gapfill/contracts";
import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import type { Mlp } from "./mlp.ts";
import { TrainingDataError, type LabelledRows } from "./rows.ts";

export type MlpHyperparameters = Pick<TrainingHyperparameters, "seed" | "epochs" | "hidden" | "lr" | "batch_size" | "l2">;

export interface TrainedMlp {
  model: Mlp;
  /** Mean binary cross-entropy over the training rows during each epoch (before the L2 term). */
  epochLogLoss: number[];
}

const ADAM_BETA1 = 0.9;
const ADAM_BETA2 = 0.999;
const ADAM_EPSILON = 1e-8;

/** Per-feature mean and standard deviation of the training rows; a constant feature gets std 1. */
export function featureMoments(rows: LabelledRows): { mean: Float64Array; std: Float64Array } {
  const { count, dimension, embeddings } = rows;
  const mean = new Float64Array(dimension);
  const std = new Float64Array(dimension);
  for (let i = 0; i < count * dimension; i++) mean[i % dimension]! += embeddings[i]!;
  for (let j = 0; j < dimension; j++) mean[j]! /= count;
  for (let i = 0; i < count * dimension; i++) {
    const d = embeddings[i]! - mean[i % dimension]!;
    std[i % dimension]! += d * d;
  }
  for (let j = 0; j < dimension; j++) {
    const s = Math.sqrt(std[j]! / count);
    std[j] = s > 1e-12 ? s : 1;
  }
  return { mean, std };
}

/**
 * Fits the one-hidden-layer network with mini-batch Adam on binary cross-entropy plus L2 on the weights (not the
 * biases), on standardized inputs; returns it with the standardization folded into the first layer. The seed fixes
 * the initialisation and every epoch's shuffle, so the same rows and hyperparameters give the same weights.
 */
export function trainMlp(rows: LabelledRows, hp: MlpHyperparameters): TrainedMlp {
  const { count, dimension: d, labels } = rows;
  const { hidden: h, batch_size: batchSize, lr, l2 } = hp;
  if (count === 0) throw new TrainingDataError("no training rows");
  const { mean, std } = featureMoments(rows);
  const x = new Float64Array(count * d);
  for (let i = 0; i < count * d; i++) x[i] = (rows.embeddings[i]! - mean[i % d]!) / std[i % d]!;

  // One parameter vector [W1 (h×d) | b1 (h) | w2 (h) | b2], so Adam is one loop over it.
  const b1At = h * d;
  const w2At = b1At + h;
  const b2At = w2At + h;
  const size = b2At + 1;
  const rng = xoroshiro128plus(hp.seed);
  const theta = new Float64Array(size);
  const initBound = (i: number) => 1 / Math.sqrt(i < w2At ? d : h);
  for (let i = 0; i < size; i++) theta[i] = (2 * uniformFloat64(rng) - 1) * initBound(i);

  const grad = new Float64Array(size);
  const m = new Float64Array(size);
  const v = new Float64Array(size);
  const z1 = new Float64Array(h);
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  const epochLogLoss: number[] = [];
  let step = 0;

  for (let epoch = 0; epoch < hp.epochs; epoch++) {
    for (let i = count - 1; i > 0; i--) {
      const k = Math.floor(uniformFloat64(rng) * (i + 1));
      const swap = order[i]!;
      order[i] = order[k]!;
      order[k] = swap;
    }
    let lossSum = 0;
    for (let start = 0; start < count; start += batchSize) {
      const end = Math.min(start + batchSize, count);
      grad.fill(0);
      for (let b = start; b < end; b++) {
        const row = order[b]!;
        const xo = row * d;
        let logit = theta[b2At]!;
        for (let k = 0; k < h; k++) {
          let z = theta[b1At + k]!;
          const wo = k * d;
          for (let j = 0; j < d; j++) z += theta[wo + j]! * x[xo + j]!;
          z1[k] = z;
          if (z > 0) logit += theta[w2At + k]! * z;
        }
        const y = labels[row]!;
        // log(1 + e^-|z|) + max(z, 0) - z·y: binary cross-entropy from the logit, stable for any z.
        lossSum += Math.log1p(Math.exp(-Math.abs(logit))) + Math.max(logit, 0) - logit * y;
        const dLogit = (1 / (1 + Math.exp(-logit)) - y) / (end - start);
        grad[b2At]! += dLogit;
        for (let k = 0; k < h; k++) {
          const z = z1[k]!;
          if (z <= 0) continue;
          grad[w2At + k]! += dLogit * z;
          const dz = dLogit * theta[w2At + k]!;
          grad[b1At + k]! += dz;
          const wo = k * d;
          for (let j = 0; j < d; j++) grad[wo + j]! += dz * x[xo + j]!;
        }
      }
      for (let i = 0; i < b1At; i++) grad[i]! += l2 * theta[i]!;
      for (let i = w2At; i < b2At; i++) grad[i]! += l2 * theta[i]!;
      step++;
      const correction1 = 1 - ADAM_BETA1 ** step;
      const correction2 = 1 - ADAM_BETA2 ** step;
      for (let i = 0; i < size; i++) {
        const g = grad[i]!;
        m[i] = ADAM_BETA1 * m[i]! + (1 - ADAM_BETA1) * g;
        v[i] = ADAM_BETA2 * v[i]! + (1 - ADAM_BETA2) * g * g;
        theta[i]! -= (lr * (m[i]! / correction1)) / (Math.sqrt(v[i]! / correction2) + ADAM_EPSILON);
      }
    }
    epochLogLoss.push(lossSum / count);
  }
  return { model: foldStandardization(theta, d, h, mean, std), epochLogLoss };
}

/** W1·((x − mean) / std) + b1 = (W1 / std)·x + (b1 − (W1 / std)·mean): the exported model takes raw embeddings. */
function foldStandardization(theta: Float64Array, d: number, h: number, mean: Float64Array, std: Float64Array): Mlp {
  const w1 = new Float32Array(h * d);
  const b1 = new Float32Array(h);
  for (let k = 0; k < h; k++) {
    let shift = 0;
    for (let j = 0; j < d; j++) {
      const w = theta[k * d + j]! / std[j]!;
      w1[k * d + j] = w;
      shift += w * mean[j]!;
    }
    b1[k] = theta[h * d + k]! - shift;
  }
  return {
    dimension: d,
    hidden: h,
    w1,
    b1,
    w2: Float32Array.from(theta.subarray(h * d + h, h * d + 2 * h)),
    b2: Float32Array.of(theta[h * d + 2 * h]!),
  };
}
