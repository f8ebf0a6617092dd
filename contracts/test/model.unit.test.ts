import { describe, expect, it } from "vitest";
import {
  describeIssues,
  holdoutMetricsSchema,
  modelInputSpec,
  MODEL_OUTPUT_SPEC,
  probabilityViolation,
  trainingHyperparametersSchema,
  trainingMetricsSchema,
  trainingRowSchema,
  trainingSetManifestSchema,
} from "../src/index.ts";

describe("scoring model interface", () => {
  it("is embedding [dynamic, D] to prob_up [dynamic, 1]", () => {
    expect(modelInputSpec(32)).toEqual({ name: "embedding", dims: [-1, 32] });
    expect(MODEL_OUTPUT_SPEC).toEqual({ name: "prob_up", dims: [-1, 1] });
  });

  it("names the first output that is not a finite probability", () => {
    expect(probabilityViolation(Float32Array.of(0, 0.5, 1))).toBeNull();
    expect(probabilityViolation([0.2, Number.NaN, 2])).toBe("prob_up[1] is NaN: expected a finite number in [0, 1]");
    expect(probabilityViolation([1.0000001])).toMatch(/^prob_up\[0\] is 1.0000001/);
    expect(probabilityViolation([-0.1])).toMatch(/^prob_up\[0\] is -0.1/);
    expect(probabilityViolation([Number.POSITIVE_INFINITY])).toMatch(/is Infinity/);
  });
});

describe("training row", () => {
  const schema = trainingRowSchema(3);
  const row = { symbol: "BTCUSDT", ts: 1_700_000_010_000, embedding: [0.1, -2, 3e5], label: 1 };
  it("parses a JSONL line of the export", () => {
    expect(schema.parse(JSON.parse(JSON.stringify(row)))).toEqual(row);
  });
  it("names what is wrong", () => {
    expect(describeIssues(schema.safeParse({ ...row, embedding: [1, 2] }).error!)).toBe("embedding: must hold 3 numbers");
    expect(describeIssues(schema.safeParse({ ...row, label: 2 }).error!)).toBe("label: must be 0 or 1");
    expect(describeIssues(schema.safeParse({ ...row, ts: 1.5 }).error!)).toMatch(/^ts: must be an integer epoch-ms/);
    expect(describeIssues(schema.safeParse({ ...row, symbol: "btc" }).error!)).toMatch(/^symbol: /);
    expect(describeIssues(schema.safeParse({ ...row, extra: 1 }).error!)).toMatch(/extra/);
  });
});

describe("training set manifest", () => {
  const manifest = {
    rows: 10,
    positives: 4,
    window: { from: 1_700_000_000_000, to: 1_700_003_600_000 },
    feature_version: "v1",
    dimension: 32,
    label_horizon_ms: 900_000,
    sha256: { "train.jsonl": "b".repeat(64) },
  };
  it("validates manifest.json and names what is wrong", () => {
    expect(trainingSetManifestSchema.parse(manifest)).toEqual(manifest);
    expect(describeIssues(trainingSetManifestSchema.safeParse({ ...manifest, positives: 11 }).error!)).toBe("positives: must be <= rows");
    const backwards = { ...manifest, window: { from: 2, to: 1 } };
    expect(describeIssues(trainingSetManifestSchema.safeParse(backwards).error!)).toBe("window.to: must be >= window.from");
    expect(describeIssues(trainingSetManifestSchema.safeParse({ ...manifest, sha256: {} }).error!)).toBe("sha256: must name at least one row file");
    const notRows = { ...manifest, sha256: { "train.csv": "b".repeat(64) } };
    expect(describeIssues(trainingSetManifestSchema.safeParse(notRows).error!)).toBe("sha256: row files must be plain .jsonl file names");
    expect(describeIssues(trainingSetManifestSchema.safeParse({ ...manifest, dimension: 0 }).error!)).toMatch(/^dimension: /);
  });
});

describe("training hyperparameters and metrics", () => {
  it("fill defaults and refuse out-of-range values", () => {
    const defaults = trainingHyperparametersSchema.parse({});
    expect(defaults.horizon_ms).toBe(900_000);
    expect(defaults.holdout_fraction).toBe(0.2);
    expect(describeIssues(trainingHyperparametersSchema.safeParse({ holdout_fraction: 1 }).error!)).toMatch(/^holdout_fraction: /);
    expect(describeIssues(trainingHyperparametersSchema.safeParse({ epochs: 0 }).error!)).toMatch(/^epochs: /);
  });

  it("metrics.json carries the holdout metrics and the split sizes", () => {
    const holdout = { holdout_rows: 5, base_rate: 0.4, log_loss: 0.6, no_skill_log_loss: 0.67, auc: null, accuracy: 0.6 };
    expect(holdoutMetricsSchema.parse(holdout)).toEqual(holdout);
    expect(describeIssues(trainingMetricsSchema.safeParse(holdout).error!)).toMatch(/train_rows/);
    expect(trainingMetricsSchema.parse({ ...holdout, train_rows: 10, embargoed_rows: 0 }).train_rows).toBe(10);
  });
});
