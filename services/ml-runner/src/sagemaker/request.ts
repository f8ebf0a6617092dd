import type { CreateTrainingJobCommandInput, TrainingInstanceType } from "@aws-sdk/client-sagemaker";
import type { TrainingHyperparameters } from "@gapfill/contracts";

/** The entry point inside sourcedir.tar.gz. */
export const TRAIN_PROGRAM = "train.py";
/** The channel train.py reads (`SM_CHANNEL_TRAIN`). */
export const TRAIN_CHANNEL = "train";
/** The SageMaker Python SDK's default volume; the training set is a few hundred MB at most. */
const VOLUME_SIZE_GB = 30;
/** logging.INFO, the SDK's default `container_log_level`. */
const CONTAINER_LOG_LEVEL = 20;

export interface TrainingJobSpec {
  jobName: string;
  roleArn: string;
  image: string;
  instanceType: string;
  region: string;
  /** `s3://<bucket>/<TRAIN_PREFIX>/<run_id>/`: train.jsonl and manifest.json. */
  channelUri: string;
  /** `s3://<bucket>/<MODEL_PREFIX>/jobs/`: SageMaker writes `<job>/output/model.tar.gz` under it. */
  outputUri: string;
  /** `s3://…/sourcedir.tar.gz` holding train.py. */
  submitDirectoryUri: string;
  hyperparameters: TrainingHyperparameters;
  maxRuntimeSeconds: number;
  tags: Record<string, string>;
}

/**
 * CreateTrainingJob as the SageMaker Python SDK sends it for a PyTorch estimator in script mode: every hyperparameter
 * JSON-encoded (strings quoted), the `sagemaker_*` ones telling the container which program to fetch and run; the
 * container passes the others to train.py as `--name value`.
 */
export function createTrainingJobInput(spec: TrainingJobSpec): CreateTrainingJobCommandInput {
  const hyperparameters: Record<string, string> = {
    sagemaker_program: JSON.stringify(TRAIN_PROGRAM),
    sagemaker_submit_directory: JSON.stringify(spec.submitDirectoryUri),
    sagemaker_region: JSON.stringify(spec.region),
    sagemaker_container_log_level: JSON.stringify(CONTAINER_LOG_LEVEL),
    sagemaker_job_name: JSON.stringify(spec.jobName),
  };
  for (const [name, value] of Object.entries(spec.hyperparameters)) hyperparameters[name] = JSON.stringify(value);
  return {
    TrainingJobName: spec.jobName,
    RoleArn: spec.roleArn,
    AlgorithmSpecification: { TrainingImage: spec.image, TrainingInputMode: "File" },
    HyperParameters: hyperparameters,
    InputDataConfig: [
      {
        ChannelName: TRAIN_CHANNEL,
        DataSource: { S3DataSource: { S3DataType: "S3Prefix", S3Uri: spec.channelUri, S3DataDistributionType: "FullyReplicated" } },
      },
    ],
    OutputDataConfig: { S3OutputPath: spec.outputUri },
    ResourceConfig: { InstanceType: spec.instanceType as TrainingInstanceType, InstanceCount: 1, VolumeSizeInGB: VOLUME_SIZE_GB },
    StoppingCondition: { MaxRuntimeInSeconds: spec.maxRuntimeSeconds },
    Tags: Object.entries(spec.tags).map(([Key, Value]) => ({ Key, Value })),
  };
}

/** `s3://bucket/a/b` → { bucket, key: "a/b" }. */
export function parseS3Uri(uri: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([^/]+)\/(.*)$/.exec(uri);
  if (!match) throw new RangeError(`expected an s3://<bucket>/<key> URI, got ${JSON.stringify(uri)}`);
  return { bucket: match[1]!, key: match[2]! };
}
