import { describe, expect, it } from "vitest";
import { EMBEDDING_DIM, mlRunnerConfigSchema, sagemakerStandInConfigSchema } from "@gapfill/contracts";
import { EXIT_CONFIG, exitCodeFor, loadConfig, type ConfigError } from "@gapfill/kit";
import { checkSageMakerSetup, runSettingsOf } from "../src/index.ts";

const problemsOf = (env: Record<string, string>) => {
  try {
    loadConfig(mlRunnerConfigSchema, "ml-runner", env);
  } catch (error) {
    return (error as ConfigError).problems;
  }
  return [];
};

describe("ml-runner configuration", () => {
  it("defaults to a week of rows, a 900 s horizon, the shared hyperparameters and the in-process trainer", () => {
    const config = loadConfig(mlRunnerConfigSchema, "ml-runner", {});
    expect(config).toMatchObject({
      TRAIN_WINDOW_HOURS: 168,
      ML_HORIZON_SECONDS: 900,
      ML_MIN_ROWS: 500,
      ML_GATE_TOLERANCE: 0,
      ML_MAX_DELIVERIES: 5,
      ML_ACK_WAIT_SECONDS: 60,
      ML_RUNNER_METRICS_PORT: 9106,
      MODEL_JSON: "model/latest.json",
      SM_MAX_RUNTIME_SECONDS: 3600,
      SM_POLL_SECONDS: 30,
    });
    expect(config.SAGEMAKER_ROLE_ARN).toBeUndefined();
    expect(runSettingsOf(config)).toMatchObject({
      windowMs: 168 * 3_600_000,
      dimension: EMBEDDING_DIM,
      hp: { seed: 1, epochs: 12, hidden: 16, lr: 0.003, batch_size: 256, l2: 1e-4, horizon_ms: 900_000, holdout_fraction: 0.2 },
    });
    expect(loadConfig(sagemakerStandInConfigSchema, "stand-in", {}).TRAIN_PYTHON).toBe("/usr/bin/python3");
  });

  it.each([
    ["ML_HORIZON_SECONDS", "100", /expected a multiple of 15 seconds \(one bar\)/],
    ["ML_HORIZON_SECONDS", "5", /expected an integer from 15 to 604800/],
    ["TRAIN_WINDOW_HOURS", "0", /expected a number from 0.05 to/],
    ["ML_MIN_ROWS", "3", /expected an integer from 10 to/],
    ["ML_HOLDOUT_FRACTION", "1", /expected a number from 0.01 to 0.9/],
    ["ML_GATE_TOLERANCE", "-0.1", /expected a number from 0 to 10/],
    ["SM_TRAIN_INSTANCE", "g4dn.xlarge", /expected a SageMaker instance type like ml.g4dn.xlarge/],
    ["SM_FRAMEWORK_VERSION", "2", /expected a PyTorch major.minor version like 2.2/],
    ["SM_TRAINING_IMAGE", "pytorch training", /expected an image URI like <registry>\/<repository>:<tag>/],
    ["SAGEMAKER_ENDPOINT", "sagemaker.local", /expected an absolute http\/https URL/],
    ["ML_MAX_DELIVERIES", "0", /expected an integer from 1 to 100/],
  ])("%s=%j is refused with a message naming it", (variable, value, message) => {
    const problems = problemsOf({ [variable]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]!.variable).toBe(variable);
    expect(problems[0]!.message).toMatch(message);
  });

  it.each([
    [{ SAGEMAKER_ROLE_ARN: "arn:aws:iam::123456789012:role/r", OBJECT_STORE: "local" }, /^SAGEMAKER_ROLE_ARN is set but the object store is the local directory \(OBJECT_STORE=local\)/],
    [{ SAGEMAKER_ROLE_ARN: "arn:aws:iam::123456789012:role/r", OBJECT_STORE: "s3", AWS_REGION: "xx-nowhere-1" }, /^AWS_REGION=xx-nowhere-1: no Deep Learning Container registry is known for it; set SM_TRAINING_IMAGE$/],
    [{ SAGEMAKER_ROLE_ARN: "arn:aws:iam::123456789012:role/r", OBJECT_STORE: "s3", SM_FRAMEWORK_VERSION: "1.8" }, /^SM_FRAMEWORK_VERSION=1\.8: expected one of/],
  ])("a SageMaker setup that cannot work is a configuration error (exit 78) at start: %j", (env, message) => {
    const check = () => checkSageMakerSetup(loadConfig(mlRunnerConfigSchema, "ml-runner", env));
    expect(check).toThrow(message);
    try {
      check();
    } catch (error) {
      expect(exitCodeFor(error)).toBe(EXIT_CONFIG);
    }
  });

  it("accepts SageMaker on S3, and an image given by hand for any region", () => {
    const base = { SAGEMAKER_ROLE_ARN: "arn:aws:iam::123456789012:role/r", OBJECT_STORE: "s3" };
    expect(() => checkSageMakerSetup(loadConfig(mlRunnerConfigSchema, "ml-runner", base))).not.toThrow();
    const custom = { ...base, AWS_REGION: "xx-nowhere-1", SM_TRAINING_IMAGE: "123456789012.dkr.ecr.xx-nowhere-1.amazonaws.com/train:1" };
    expect(() => checkSageMakerSetup(loadConfig(mlRunnerConfigSchema, "ml-runner", custom))).not.toThrow();
  });
});
