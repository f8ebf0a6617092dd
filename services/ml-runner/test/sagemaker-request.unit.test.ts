import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { compactUtc, runIdOf, trainingHyperparametersSchema } from "@gapfill/contracts";
import {
  ArchiveError,
  createTrainingJobInput,
  isGpuInstance,
  readArchiveFiles,
  sourceDirArchive,
  TRAIN_PY,
  TRAINING_JOB_NAME_PATTERN,
  TrainingImageError,
  trainingImageUri,
  trainingJobName,
} from "../src/index.ts";

describe("run ids and training job names", () => {
  it("name a run by its tick's kind and window, file-name safe", () => {
    expect(compactUtc(Date.UTC(2026, 11, 1, 13, 0, 0))).toBe("20261201T130000Z");
    expect(runIdOf({ kind: "retrain", window_start: Date.UTC(2026, 11, 1, 13) })).toBe("retrain-20261201T130000Z");
  });

  it("derive the job name from the run and the deployment, within SageMaker's pattern, apart for two deployments", () => {
    const runId = "retrain-20261201T130000Z";
    const base = { namespace: "prod", bucket: "landing", trainPrefix: "train", runId };
    const name = trainingJobName(base);
    expect(name).toMatch(/^gapfill-prod-[0-9a-f]{8}-retrain-20261201T130000Z$/);
    expect(trainingJobName(base)).toBe(name);
    const longest = trainingJobName({ ...base, namespace: "a_very_long_namespace_name_of_32c" });
    expect(longest).toMatch(TRAINING_JOB_NAME_PATTERN);
    expect(longest.length).toBeLessThanOrEqual(63);
    expect(trainingJobName({ ...base, namespace: "" })).toMatch(/^gapfill-[0-9a-f]{8}-retrain-/);
    // Namespaces that shorten alike, or one namespace on another bucket, still get their own names.
    const others = [{ namespace: "prod-" }, { namespace: "prod_" }, { bucket: "landing-2" }, { trainPrefix: "train2" }].map((change) => trainingJobName({ ...base, ...change }));
    expect(new Set([name, ...others]).size).toBe(5);
  });
});

describe("the training image", () => {
  const settings = { region: "us-east-1", frameworkVersion: "2.2", instanceType: "ml.g4dn.xlarge" };

  it.each([
    [settings, "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.2.0-gpu-py310-cu121-ubuntu20.04-sagemaker"],
    [{ ...settings, instanceType: "ml.m5.xlarge" }, "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.2.0-cpu-py310-ubuntu20.04-sagemaker"],
    [{ ...settings, instanceType: "ml.p3.2xlarge", frameworkVersion: "2.0" }, "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.0.0-gpu-py310-cu118-ubuntu20.04-sagemaker"],
    [{ ...settings, region: "eu-west-1", frameworkVersion: "2.1" }, "763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-training:2.1.0-gpu-py310-cu121-ubuntu20.04-sagemaker"],
    [{ ...settings, region: "af-south-1" }, "626614931356.dkr.ecr.af-south-1.amazonaws.com/pytorch-training:2.2.0-gpu-py310-cu121-ubuntu20.04-sagemaker"],
    [{ ...settings, region: "cn-north-1", instanceType: "ml.c5.xlarge" }, "727897471807.dkr.ecr.cn-north-1.amazonaws.com.cn/pytorch-training:2.2.0-cpu-py310-ubuntu20.04-sagemaker"],
    [{ ...settings, region: "xx-nowhere-9", override: "registry.example/train:1" }, "registry.example/train:1"],
  ])("%j → %s", (input, uri) => {
    expect(trainingImageUri(input)).toBe(uri);
  });

  it("is refused, naming the variable, where it cannot be derived", () => {
    expect(() => trainingImageUri({ ...settings, region: "xx-nowhere-9" })).toThrow(new TrainingImageError("AWS_REGION=xx-nowhere-9: no Deep Learning Container registry is known for it; set SM_TRAINING_IMAGE"));
    expect(() => trainingImageUri({ ...settings, frameworkVersion: "1.9" })).toThrow(/^SM_FRAMEWORK_VERSION=1\.9: expected one of 2\.0, 2\.1, 2\.2, or set SM_TRAINING_IMAGE$/);
  });

  it("takes GPU builds for the g and p instance families only", () => {
    expect(["ml.g4dn.xlarge", "ml.g5.2xlarge", "ml.p3.2xlarge", "ml.p4d.24xlarge"].every(isGpuInstance)).toBe(true);
    expect(["ml.m5.xlarge", "ml.c5.xlarge", "ml.trn1.2xlarge", "ml.inf2.xlarge"].some(isGpuInstance)).toBe(false);
  });
});

describe("CreateTrainingJob", () => {
  it("JSON-encodes every hyperparameter as the SageMaker Python SDK does", () => {
    const input = createTrainingJobInput({
      jobName: "gapfill-x-retrain-1",
      roleArn: "arn:aws:iam::123456789012:role/r",
      image: "img:1",
      instanceType: "ml.m5.xlarge",
      region: "us-east-1",
      channelUri: "s3://b/train/r/",
      outputUri: "s3://b/model/jobs/",
      submitDirectoryUri: "s3://b/model/jobs/j/source/sourcedir.tar.gz",
      hyperparameters: trainingHyperparametersSchema.parse({ lr: 0.0005, l2: 0 }),
      maxRuntimeSeconds: 600,
      tags: {},
    });
    expect(input.HyperParameters).toMatchObject({ sagemaker_program: '"train.py"', sagemaker_container_log_level: "20", lr: "0.0005", l2: "0", epochs: "12" });
    expect(Object.values(input.HyperParameters!).every((value) => JSON.parse(value) !== undefined)).toBe(true);
    expect(input.Tags).toEqual([]);
  });
});

describe("archives", () => {
  it("packs train.py alone and the same bytes every time, and reads files back out of a tar.gz stream", async () => {
    const archive = await sourceDirArchive(TRAIN_PY);
    expect((await sourceDirArchive(TRAIN_PY)).equals(archive)).toBe(true);
    const files = await readArchiveFiles(Readable.from([archive]), ["train.py"], "sourcedir.tar.gz");
    expect(files.get("train.py")!.toString()).toMatch(/^"""SageMaker training entry point/);
    await expect(readArchiveFiles(Readable.from([archive]), ["model.onnx", "metrics.json"], "model.tar.gz")).rejects.toThrow(
      new ArchiveError("model.tar.gz holds no model.onnx, metrics.json"),
    );
    await expect(readArchiveFiles(Readable.from([Buffer.from("not a tar archive at all")]), ["model.onnx"], "s3://b/k")).rejects.toThrow(/^s3:\/\/b\/k: not a readable tar archive/);
  });
});
