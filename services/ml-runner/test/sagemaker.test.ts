import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  BAR_MS,
  modelManifestSchema,
  runIdOf,
  TRAINING_MANIFEST_FILE,
  TRAINING_ROWS_FILE,
  trainingHyperparametersSchema,
  trainingSetManifestSchema,
} from "@gapfill/contracts";
import { sha256Hex } from "@gapfill/kit";
import {
  startS3TestServer,
  startSageMakerStandIn,
  startServiceProcess,
  TEST_SERIES_START,
  waitFor,
  type S3TestServer,
  type SageMakerStandIn,
  type ServiceProcess,
} from "@gapfill/testkit";
import { ModelProto, readRunRecord, TRAINING_JOB_NAME_PATTERN, trainingJobName } from "../src/index.ts";
import { createRunnerWorld, seededMarket, type RunnerWorld } from "./support.ts";

const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const ROLE = "arn:aws:iam::123456789012:role/gapfill-sagemaker";
const BARS = 1000;
const WINDOW_START = TEST_SERIES_START + BARS * BAR_MS;
const MINUTE = 60_000;

/** A server (and so a bucket) per test: run ids repeat from test to test, as they would in two deployments sharing one. */
let s3: S3TestServer;
let standIn: SageMakerStandIn | undefined;
let world: RunnerWorld | undefined;
const processes: ServiceProcess[] = [];

beforeEach(async () => {
  s3 = await startS3TestServer();
  // As in production, the SDK's default chain finds the credentials in the environment.
  vi.stubEnv("AWS_ACCESS_KEY_ID", s3.credentials.accessKeyId);
  vi.stubEnv("AWS_SECRET_ACCESS_KEY", s3.credentials.secretAccessKey);
});
afterEach(async () => {
  await Promise.all(processes.splice(0).map((p) => p.kill()));
  await world?.cleanup();
  await standIn?.close();
  await s3.close();
  vi.unstubAllEnvs();
  world = undefined;
  standIn = undefined;
});

/** A world whose object store is the S3 test server's bucket and whose runners train through the stand-in. */
async function sageMakerWorld(options: Parameters<typeof startSageMakerStandIn>[0] extends infer O ? Omit<O, "s3"> : never, env: Record<string, string> = {}) {
  standIn = await startSageMakerStandIn({ s3, ...options });
  world = await createRunnerWorld({
    s3,
    env: { SAGEMAKER_ROLE_ARN: ROLE, SAGEMAKER_ENDPOINT: standIn.endpoint, SM_POLL_SECONDS: "0.1", TRAIN_WINDOW_HOURS: "5", ML_EPOCHS: "6", ...env },
  });
  const market = seededMarket(TEST_SERIES_START, BARS);
  await world.store.upsertBars(market.bars);
  await world.store.upsertEmbeddings(market.embeddings);
  return { world, standIn };
}

const json = async (w: RunnerWorld, key: string) => JSON.parse((await w.objects.get(key)).toString("utf8")) as Record<string, unknown>;

describe("ml-runner with SageMaker (the stand-in running train.py)", () => {
  it("sends CreateTrainingJob as the SageMaker SDK would, follows the job to Completed and publishes train.py's model", async () => {
    const { world, standIn } = await sageMakerWorld({});
    // A throttled first CreateTrainingJob: the SDK retries it, and still one job is created.
    standIn.failNext("CreateTrainingJob", 1, { type: "ThrottlingException", message: "Rate exceeded" });
    await world.startRunner();
    const tick = await world.publishTick(WINDOW_START);
    const runId = runIdOf(tick);
    const finished = await world.waitForEvent("run.finished", () => true, 120_000);
    expect(finished.data).toMatchObject({ run_id: runId, outcome: "promoted", version: runId });

    const jobName = trainingJobName({ namespace: world.ns, bucket: s3.bucket, trainPrefix: "train", runId });
    expect(jobName).toMatch(TRAINING_JOB_NAME_PATTERN);
    expect(jobName.startsWith(`gapfill-${world.ns}-`)).toBe(true);
    const creates = standIn.requestsOf("CreateTrainingJob");
    expect(creates).toHaveLength(2);
    expect([...standIn.jobs.keys()]).toEqual([jobName]);
    const hp = trainingHyperparametersSchema.parse({ epochs: 6 });
    expect(creates[1]!.signedFor).toEqual({ region: "us-east-1", service: "sagemaker" });
    expect(creates[1]!.body).toEqual({
      TrainingJobName: jobName,
      RoleArn: ROLE,
      AlgorithmSpecification: {
        TrainingImage: "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.2.0-gpu-py310-cu121-ubuntu20.04-sagemaker",
        TrainingInputMode: "File",
      },
      HyperParameters: {
        sagemaker_program: '"train.py"',
        sagemaker_submit_directory: `"s3://${s3.bucket}/model/jobs/${jobName}/source/sourcedir.tar.gz"`,
        sagemaker_region: '"us-east-1"',
        sagemaker_container_log_level: "20",
        sagemaker_job_name: `"${jobName}"`,
        seed: String(hp.seed),
        epochs: "6",
        hidden: String(hp.hidden),
        lr: String(hp.lr),
        batch_size: String(hp.batch_size),
        l2: String(hp.l2),
        horizon_ms: "900000",
        holdout_fraction: String(hp.holdout_fraction),
      },
      InputDataConfig: [
        {
          ChannelName: "train",
          DataSource: { S3DataSource: { S3DataType: "S3Prefix", S3Uri: `s3://${s3.bucket}/train/${runId}/`, S3DataDistributionType: "FullyReplicated" } },
        },
      ],
      OutputDataConfig: { S3OutputPath: `s3://${s3.bucket}/model/jobs/` },
      ResourceConfig: { InstanceType: "ml.g4dn.xlarge", InstanceCount: 1, VolumeSizeInGB: 30 },
      StoppingCondition: { MaxRuntimeInSeconds: 3600 },
      Tags: [
        { Key: "gapfill:namespace", Value: world.ns },
        { Key: "gapfill:run_id", Value: runId },
      ],
    });

    // train.py really trained: the job went through SageMaker's statuses, and the published model is torch's export.
    const job = standIn.jobs.get(jobName)!;
    expect(job.exitCode, job.output).toBe(0);
    expect(job.status).toBe("Completed");
    const latest = modelManifestSchema.parse(await json(world, "model/latest.json"));
    expect(latest.trainer).toEqual({ kind: "sagemaker", job_name: jobName, instance_type: "ml.g4dn.xlarge" });
    const onnx = await world.objects.get(latest.artifacts.onnx!);
    expect(sha256Hex(onnx)).toBe(latest.sha256.onnx);
    expect((ModelProto.decode(onnx) as unknown as { producer_name: string }).producer_name).toBe("pytorch");
    await world.objects.head(`model/jobs/${jobName}/output/model.tar.gz`);

    // The export in the bucket: the manifest validates and its sha256 is the rows'.
    const manifest = trainingSetManifestSchema.parse(await json(world, `train/${runId}/${TRAINING_MANIFEST_FILE}`));
    expect(sha256Hex(await world.objects.get(`train/${runId}/${TRAINING_ROWS_FILE}`))).toBe(manifest.sha256[TRAINING_ROWS_FILE]);
    const record = await readRunRecord(world.objects, `train/${runId}`);
    expect(record?.train).toMatchObject({ trainer: "sagemaker", job_name: jobName, instance_type: "ml.g4dn.xlarge" });
  }, 180_000);

  it("resumes polling the same job after the runner is killed while the job is InProgress: one CreateTrainingJob", async () => {
    const env = { AWS_REGION: "eu-south-1", SM_TRAIN_INSTANCE: "ml.m5.xlarge", SM_FRAMEWORK_VERSION: "2.1", ML_ACK_WAIT_SECONDS: "2" };
    const { world, standIn } = await sageMakerWorld({ holdJobs: true }, env);
    const killed = startServiceProcess(MAIN, {
      NATS_URL: world.config().NATS_URL,
      NATS_NAMESPACE: world.ns,
      DATABASE_URL: world.config().DATABASE_URL!,
      DATABASE_SCHEMA: world.ns,
      OBJECT_STORE: "s3",
      S3_ENDPOINT: s3.endpoint,
      LANDING_BUCKET: s3.bucket,
      SAGEMAKER_ROLE_ARN: ROLE,
      SAGEMAKER_ENDPOINT: standIn.endpoint,
      SM_POLL_SECONDS: "0.1",
      TRAIN_WINDOW_HOURS: "5",
      ML_EPOCHS: "6",
      ML_MIN_ROWS: "200",
      ML_RUNNER_METRICS_PORT: "0",
      ...env,
    });
    processes.push(killed);
    const tick = await world.publishTick(WINDOW_START);
    const runId = runIdOf(tick);
    // The job's program has ended, and SageMaker still says InProgress (held), while the runner polls it.
    await waitFor(() => [...standIn.jobs.values()].find((job) => job.secondaryStatus === "Training" && job.exitCode === 0), {
      what: `the training job to be InProgress with train.py done (runner: ${killed.stderr.join(" | ")})`,
      timeoutMs: 120_000,
    });
    const [jobName] = [...standIn.jobs.keys()];
    await waitFor(() => killed.logs.some((line) => line.msg === "SageMaker training job InProgress/Training"), { what: "the runner to poll the job" });
    await killed.kill();
    standIn.release();

    await world.startRunner({ env });
    const finished = await world.waitForEvent("run.finished", () => true, 60_000);
    expect(finished.data).toMatchObject({ run_id: runId, outcome: "promoted" });
    expect(standIn.requestsOf("CreateTrainingJob")).toHaveLength(1);
    expect(world.eventsOf("run.started").map((event) => [event.data.delivery, event.data.resumed_at])).toEqual([
      [1, null],
      [2, "train"],
    ]);
    const create = standIn.requestsOf("CreateTrainingJob")[0]!;
    expect(create.signedFor).toEqual({ region: "eu-south-1", service: "sagemaker" });
    expect(create.body).toMatchObject({
      TrainingJobName: jobName,
      AlgorithmSpecification: { TrainingImage: "692866216735.dkr.ecr.eu-south-1.amazonaws.com/pytorch-training:2.1.0-cpu-py310-ubuntu20.04-sagemaker" },
      ResourceConfig: { InstanceType: "ml.m5.xlarge" },
      HyperParameters: expect.objectContaining({ sagemaker_region: '"eu-south-1"' }),
    });
    // The restarted runner described the job before anything else, and never created one.
    const after = standIn.requests.filter((request) => request.at > create.at);
    expect(after.every((request) => request.operation === "DescribeTrainingJob")).toBe(true);
  }, 180_000);

  it("promotes nothing when the job fails: ml.run.failed carries the FailureReason and latest.json stays byte-identical", async () => {
    let corrupt: string | null = null;
    const { world, standIn } = await sageMakerWorld({
      // The second run's channel loses a row after its manifest was written: train.py refuses it.
      beforeDownload: async (jobName) => {
        if (!corrupt || !jobName.endsWith(corrupt.replace(/[^A-Za-z0-9]+/g, "-"))) return;
        const key = `train/${corrupt}/${TRAINING_ROWS_FILE}`;
        const lines = (await world!.objects.get(key)).toString("utf8").trimEnd().split("\n");
        await world!.objects.put(key, `${lines.slice(1).join("\n")}\n`);
      },
    });
    await world.startRunner();
    const first = await world.publishTick(WINDOW_START);
    await world.waitForEvent("run.finished", (data) => data.run_id === runIdOf(first), 120_000);
    const latestBefore = await world.objects.get("model/latest.json");

    const second = { kind: "retrain" as const, window_start: WINDOW_START + MINUTE };
    corrupt = runIdOf(second);
    await world.publishTick(second.window_start);
    const failed = await world.waitForEvent("run.failed", (data) => data.run_id === corrupt, 120_000);
    const jobName = trainingJobName({ namespace: world.ns, bucket: s3.bucket, trainPrefix: "train", runId: corrupt });
    expect(failed.data).toMatchObject({ step: "train", final: true, delivery: 1, job_name: jobName });
    expect(failed.data.reason).toMatch(/^training job \S+ Failed: AlgorithmError: train\.jsonl: sha256 is [0-9a-f]{64}, manifest\.json says [0-9a-f]{64}$/);
    expect(standIn.jobs.get(jobName)).toMatchObject({ status: "Failed", exitCode: 1 });
    expect((await world.objects.get("model/latest.json")).equals(latestBefore)).toBe(true);
    expect(world.eventsOf("model.published")).toHaveLength(1);
    expect(world.eventsOf("run.finished").map((event) => event.data.run_id)).toEqual([runIdOf(first)]);
    expect(await readRunRecord(world.objects, `train/${corrupt}`)).toMatchObject({ state: "failed", failure: { step: "train", delivery: 1 } });
    await expect(world.objects.head(`train/${corrupt}/model.onnx`)).rejects.toThrow(/no object/);
  }, 180_000);
});
