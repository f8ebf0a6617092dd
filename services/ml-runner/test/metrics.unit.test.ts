import { describe, expect, it } from "vitest";
import { holdoutMetrics, logLoss, rocAuc } from "../src/index.ts";

describe("AUC", () => {
  it("counts a tied positive/negative pair as one half", () => {
    // Pairs (positive, negative): (0.4, 0.1) 1, (0.4, 0.4) ½, (0.8, 0.1) 1, (0.8, 0.4) 1 → 3.5 / 4.
    expect(rocAuc([0.1, 0.4, 0.4, 0.8], [0, 0, 1, 1])).toBe(0.875);
    expect(rocAuc([0.4, 0.1, 0.8, 0.4], [1, 0, 1, 0])).toBe(0.875);
    expect(rocAuc([0.3, 0.3, 0.3, 0.3, 0.3], [1, 0, 1, 0, 0])).toBe(0.5);
  });

  it("is 1 for a perfect ranking, 0 for a reversed one, null with one class", () => {
    expect(rocAuc([0.1, 0.2, 0.7, 0.9], [0, 0, 1, 1])).toBe(1);
    expect(rocAuc([0.9, 0.7, 0.2, 0.1], [0, 0, 1, 1])).toBe(0);
    expect(rocAuc([0.2, 0.9], [1, 1])).toBeNull();
    expect(rocAuc([0.2, 0.9], [0, 0])).toBeNull();
  });

  it("agrees with counting every pair on a bigger case with ties", () => {
    const probabilities = Array.from({ length: 60 }, (_, i) => ((i * 37) % 11) / 10);
    const labels = Array.from({ length: 60 }, (_, i) => ((i * 13) % 7 < 3 ? 1 : 0));
    let wins = 0;
    let pairs = 0;
    probabilities.forEach((p, i) =>
      probabilities.forEach((q, j) => {
        if (labels[i] !== 1 || labels[j] !== 0) return;
        pairs++;
        wins += p > q ? 1 : p === q ? 0.5 : 0;
      }),
    );
    expect(rocAuc(probabilities, labels)).toBeCloseTo(wins / pairs, 12);
  });
});

describe("log loss", () => {
  it("is the mean negative log-likelihood", () => {
    expect(logLoss([0.9, 0.2], [1, 0])).toBeCloseTo(-(Math.log(0.9) + Math.log(0.8)) / 2, 12);
  });

  it("clips certain misses to 1e-7 so the loss stays finite", () => {
    expect(logLoss([0], [1])).toBeCloseTo(-Math.log(1e-7), 9);
    expect(logLoss([1], [0])).toBeCloseTo(-Math.log(1e-7), 6);
    expect(logLoss([1, 0], [1, 0])).toBeCloseTo(-Math.log(1 - 1e-7), 12);
  });
});

describe("holdout metrics", () => {
  it("report base rate, accuracy at 0.5 (exactly 0.5 counts as down), no-skill loss and AUC", () => {
    const metrics = holdoutMetrics([0.9, 0.6, 0.5, 0.3], [1, 1, 1, 0]);
    expect(metrics.holdout_rows).toBe(4);
    expect(metrics.base_rate).toBe(0.75);
    expect(metrics.accuracy).toBe(0.75);
    expect(metrics.no_skill_log_loss).toBeCloseTo(-(0.75 * Math.log(0.75) + 0.25 * Math.log(0.25)), 12);
    expect(metrics.log_loss).toBeCloseTo(-(Math.log(0.9) + Math.log(0.6) + Math.log(0.5) + Math.log(0.7)) / 4, 12);
    expect(metrics.auc).toBe(1);
  });

  it("give the no-skill loss of always predicting the base rate", () => {
    const labels = [1, 0, 0, 1, 0];
    const metrics = holdoutMetrics(labels.map(() => 0.4), labels);
    expect(metrics.no_skill_log_loss).toBeCloseTo(metrics.log_loss, 12);
    expect(metrics.auc).toBe(0.5);
  });

  it("refuse a count mismatch or an empty holdout", () => {
    expect(() => holdoutMetrics([0.5], [1, 0])).toThrow(/1 probabilities, 2 labels/);
    expect(() => holdoutMetrics([], [])).toThrow(RangeError);
  });
});
