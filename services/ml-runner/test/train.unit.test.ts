import { trainingHyperparametersSchema } from "@gapfill/contracts";
import { describe, expect, it } from "vitest";
import { labelledRows, mlpToOnnx, predict, promotionDecision, trainAndEvaluate, trainMlp } from "../src/index.ts";
import { shuffledLabels, syntheticRows } from "./synthetic-rows.ts";

const DIM = 12;
const hp = trainingHyperparametersSchema.parse({});
const synthetic = syntheticRows({ seed: 5, count: 6_000, dimension: DIM });
const rows = labelledRows(synthetic, DIM);

describe("in-process trainer", () => {
  it("is deterministic for a seed: the same rows give byte-identical ONNX, another seed other weights", () => {
    const small = { ...hp, epochs: 2 };
    const first = trainMlp(rows, small).model;
    const again = trainMlp(rows, small).model;
    expect(Buffer.from(mlpToOnnx(again)).equals(Buffer.from(mlpToOnnx(first)))).toBe(true);
    const reseeded = trainMlp(rows, { ...small, seed: small.seed + 1 }).model;
    expect(reseeded.w1).not.toEqual(first.w1);
    expect(Buffer.from(mlpToOnnx(reseeded)).equals(Buffer.from(mlpToOnnx(first)))).toBe(false);
  });

  it("standardizes inside the model: rescaled and shifted features give the same predictions on raw embeddings", () => {
    const rescaled = labelledRows(
      synthetic.map((row) => ({ ...row, embedding: row.embedding.map((x, j) => Math.fround((j + 1) * 3 * x - 7 * j)) })),
      DIM,
    );
    const small = { ...hp, epochs: 2 };
    const original = predict(trainMlp(rows, small).model, rows.embeddings);
    const onRescaled = predict(trainMlp(rescaled, small).model, rescaled.embeddings);
    let worst = 0;
    for (let i = 0; i < rows.count; i++) worst = Math.max(worst, Math.abs(original[i]! - onRescaled[i]!));
    expect(worst).toBeLessThan(1e-4);
  });

  it("learns a label that depends on the embedding: holdout AUC above 0.85 and log loss under no-skill", () => {
    const fit = trainAndEvaluate(rows, hp);
    expect(fit.metrics.auc).toBeGreaterThan(0.85);
    expect(fit.metrics.log_loss).toBeLessThan(fit.metrics.no_skill_log_loss - 0.1);
    expect(fit.metrics.holdout_rows).toBe(1_200);
    // Two rows per 15 s bar and a 15 min horizon: 60 bars = 120 rows before the holdout are embargoed.
    expect(fit.metrics.embargoed_rows).toBe(120);
    expect(fit.metrics.train_rows).toBe(6_000 - 1_200 - 120);
    expect(fit.epochLogLoss.at(-1)).toBeLessThan(fit.epochLogLoss[0]!);
  });
});

describe("promotion gate", () => {
  const real = trainAndEvaluate(rows, hp);
  const labels = real.holdout.labels;
  const noise = trainAndEvaluate(labelledRows(shuffledLabels(synthetic, 9), DIM), hp);
  const noiseOnRealHoldout = predict(noise.model, real.holdout.embeddings);
  const tolerance = 0.005;

  it("refuses a model trained on shuffled labels over the real one, saying why", () => {
    const decision = promotionDecision({ labels, candidate: noiseOnRealHoldout, current: real.holdoutProbabilities, tolerance });
    expect(decision.promote).toBe(false);
    expect(decision.candidate!.log_loss).toBeGreaterThan(decision.current!.log_loss + tolerance);
    expect(decision.current!.log_loss).toBeCloseTo(real.metrics.log_loss, 12);
    expect(decision.reason).toMatch(/^candidate log loss 0\.\d{5} vs current 0\.\d{5} \+ tolerance 0.005: worse$/);
  });

  it("promotes the real model over the shuffled one, and any valid model when none is published", () => {
    const better = promotionDecision({ labels, candidate: real.holdoutProbabilities, current: noiseOnRealHoldout, tolerance });
    expect(better).toMatchObject({ promote: true, reason: expect.stringMatching(/: within$/) });
    const first = promotionDecision({ labels, candidate: noiseOnRealHoldout, current: null, tolerance });
    expect(first).toMatchObject({ promote: true, current: null, reason: expect.stringMatching(/^no current model/) });
  });

  it("promotes a candidate slightly worse than the current model within the tolerance", () => {
    const same = promotionDecision({ labels, candidate: real.holdoutProbabilities, current: real.holdoutProbabilities, tolerance: 0 });
    expect(same.promote).toBe(true);
    const nudged = Float32Array.from(real.holdoutProbabilities, (p) => Math.min(1, Math.max(0, p + 0.01)));
    const worse = promotionDecision({ labels, candidate: nudged, current: real.holdoutProbabilities, tolerance: 0 });
    const loss = worse.candidate!.log_loss - worse.current!.log_loss;
    expect(loss).toBeGreaterThan(0);
    expect(worse.promote).toBe(false);
    expect(promotionDecision({ labels, candidate: nudged, current: real.holdoutProbabilities, tolerance: loss * 1.01 }).promote).toBe(true);
  });

  it("refuses a candidate whose outputs break the contract, and replaces a current model whose outputs do", () => {
    const broken = Float32Array.from(real.holdoutProbabilities);
    broken[3] = Number.NaN;
    const refused = promotionDecision({ labels, candidate: broken, current: null, tolerance });
    expect(refused).toMatchObject({ promote: false, candidate: null });
    expect(refused.reason).toBe("candidate breaks the output contract: prob_up[3] is NaN: expected a finite number in [0, 1]");
    const replaced = promotionDecision({ labels, candidate: real.holdoutProbabilities, current: broken, tolerance });
    expect(replaced).toMatchObject({ promote: true, current: null });
    expect(replaced.reason).toMatch(/^current model breaks the output contract: prob_up\[3\] is NaN/);
  });
});
