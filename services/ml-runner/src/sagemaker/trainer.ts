import { setTimeout as sleep } from "node:timers/promises";
import {
  CreateTrainingJobCommand,
  DescribeTrainingJobCommand,
  type DescribeTrainingJobCommandOutput,
  type SageMakerClient,
} from "@aws-sdk/client-sagemaker";
import { trainingMetricsSchema, type TrainingMetrics } from "@gapfill/contracts";
import type { Logger, ObjectStore } from "@gapfill/kit";
import { TrainingJobFailedError, type Candidate, type Trainer, type TrainingRequest } from "../trainer.ts";
import { readArchiveFiles, sourceDirArchive } from "./archives.ts";
import { trainingJobName } from "./job-name.ts";
import { createTrainingJobInput, parseS3Uri } from "./request.ts";

export interface SageMakerTrainerOptions {
  client: SageMakerClient;
  /** The S3 object store of `bucket`: the channel is read from it, sourcedir and model.tar.gz go through it. */
  objects: ObjectStore;
  bucket: string;
  region: string;
  namespace: string;
  trainPrefix: string;
  modelPrefix: string;
  roleArn: string;
  instanceType: string;
  image: string;
  maxRuntimeSeconds: number;
  pollMs: number;
  /** train.py, packed as sourcedir.tar.gz for each job. */
  programPath: string;
}

/** The files SageMaker packs from SM_MODEL_DIR into model.tar.gz that a run takes. */
const MODEL_FILE = "model.onnx";
const METRICS_FILE = "metrics.json";

/** DescribeTrainingJob of a job that does not exist: ValidationException "Requested resource not found" on AWS. */
function isJobNotFound(error: unknown): boolean {
  const { name, message } = error as { name?: string; message?: string };
  return name === "ResourceNotFound" || (name === "ValidationException" && /not found/i.test(message ?? ""));
}

/**
 * Trains on SageMaker (SAGEMAKER_ROLE_ARN set): CreateTrainingJob with the repository's train.py, then a poll loop of
 * its own (the SDK's waiter takes Stopped for success and waits minutes between polls). The job is named after the
 * run, so a runner restarted mid-job describes and follows the job it started before instead of starting another.
 */
export function sageMakerTrainer(options: SageMakerTrainerOptions): Trainer {
  const { client, objects, ...settings } = options;

  async function describe(jobName: string, signal: AbortSignal): Promise<DescribeTrainingJobCommandOutput | null> {
    try {
      return await client.send(new DescribeTrainingJobCommand({ TrainingJobName: jobName }), { abortSignal: signal });
    } catch (error) {
      if (isJobNotFound(error)) return null;
      throw error;
    }
  }

  async function createJob(jobName: string, runPrefix: string, request: TrainingRequest): Promise<void> {
    const sourceKey = `${settings.modelPrefix}/jobs/${jobName}/source/sourcedir.tar.gz`;
    await objects.put(sourceKey, await sourceDirArchive(settings.programPath));
    const input = createTrainingJobInput({
      jobName,
      roleArn: settings.roleArn,
      image: settings.image,
      instanceType: settings.instanceType,
      region: settings.region,
      channelUri: `s3://${settings.bucket}/${runPrefix}/`,
      outputUri: `s3://${settings.bucket}/${settings.modelPrefix}/jobs/`,
      submitDirectoryUri: `s3://${settings.bucket}/${sourceKey}`,
      hyperparameters: request.hp,
      maxRuntimeSeconds: settings.maxRuntimeSeconds,
      tags: { "gapfill:namespace": settings.namespace, "gapfill:run_id": request.runId },
    });
    try {
      await client.send(new CreateTrainingJobCommand(input), { abortSignal: request.signal });
      request.log.info({ job: jobName, image: settings.image, instanceType: settings.instanceType }, "SageMaker training job created");
    } catch (error) {
      // The name is taken only by this run's own job (created by an earlier attempt whose answer was lost).
      if ((error as { name?: string }).name !== "ResourceInUse") throw error;
      request.log.info({ job: jobName }, "SageMaker training job exists already; following it");
    }
  }

  async function waitForJob(jobName: string, signal: AbortSignal, log: Logger): Promise<DescribeTrainingJobCommandOutput> {
    let shown = "";
    for (;;) {
      const job = await describe(jobName, signal);
      if (!job) throw new Error(`SageMaker training job ${jobName} disappeared (DescribeTrainingJob: not found)`);
      const status = `${job.TrainingJobStatus}/${job.SecondaryStatus}`;
      if (status !== shown) {
        shown = status;
        log.info({ job: jobName, status: job.TrainingJobStatus, secondaryStatus: job.SecondaryStatus }, `SageMaker training job ${status}`);
      }
      if (job.TrainingJobStatus === "Completed") return job;
      if (job.TrainingJobStatus === "Failed" || job.TrainingJobStatus === "Stopped") {
        throw new TrainingJobFailedError(jobName, job.TrainingJobStatus, job.FailureReason ?? `secondary status ${job.SecondaryStatus}`);
      }
      await sleep(settings.pollMs, undefined, { signal });
    }
  }

  async function modelOf(job: DescribeTrainingJobCommandOutput): Promise<{ onnx: Buffer; metrics: TrainingMetrics }> {
    const uri = job.ModelArtifacts?.S3ModelArtifacts;
    if (!uri) throw new Error(`SageMaker training job ${job.TrainingJobName} completed without ModelArtifacts.S3ModelArtifacts`);
    const { bucket, key } = parseS3Uri(uri);
    if (bucket !== settings.bucket) throw new Error(`model artifacts at ${uri} are outside the bucket ${settings.bucket}`);
    const files = await readArchiveFiles(await objects.getStream(key), [MODEL_FILE, METRICS_FILE], uri);
    const metrics = trainingMetricsSchema.safeParse(JSON.parse(files.get(METRICS_FILE)!.toString("utf8")));
    if (!metrics.success) throw new Error(`${uri}: ${METRICS_FILE} is not train.py's metrics: ${metrics.error.message}`);
    return { onnx: files.get(MODEL_FILE)!, metrics: metrics.data };
  }

  return {
    kind: "sagemaker",
    async train(request: TrainingRequest): Promise<Candidate> {
      const { runId, runPrefix, signal, log } = request;
      const jobName = trainingJobName({ namespace: settings.namespace, bucket: settings.bucket, trainPrefix: settings.trainPrefix, runId });
      const existing = await describe(jobName, signal);
      if (existing) {
        log.info({ job: jobName, status: existing.TrainingJobStatus }, "found this run's SageMaker training job; following it");
      } else {
        await createJob(jobName, runPrefix, request);
      }
      await request.onJob?.(jobName);
      const job = await waitForJob(jobName, signal, log);
      const { onnx, metrics } = await modelOf(job);
      return { onnx, metrics, jobName, instanceType: settings.instanceType };
    },
  };
}
