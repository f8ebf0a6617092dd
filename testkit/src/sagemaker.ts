/**
 * A SageMaker stand-in at the protocol level, as the Binance simulator is for Binance: an HTTP server speaking
 * SageMaker's JSON 1.1 API for CreateTrainingJob, DescribeTrainingJob and StopTrainingJob, reached by the real
 * `@aws-sdk/client-sagemaker` through its `endpoint`. A created job runs for real: the channel is downloaded from the
 * S3 test server into a temp directory laid out like the container's /opt/ml, the sourcedir.tar.gz of
 * `sagemaker_submit_directory` is unpacked, `sagemaker_program` runs under TRAIN_PYTHON with the SM_* variables and the
 * other hyperparameters as `--name value` (JSON-decoded, as the training toolkit does), and SM_MODEL_DIR is uploaded as
 * `<S3OutputPath>/<job>/output/model.tar.gz`. Statuses walk as on AWS: InProgress (Starting, Downloading, Training,
 * Uploading) then Completed; Failed with the program's failure file as FailureReason when it exits non-zero; Stopping
 * then Stopped on StopTrainingJob or past MaxRuntimeInSeconds.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { create as createTar, extract as extractTar } from "tar";
import { loadConfig, openS3ObjectStore, type ObjectStore } from "@gapfill/kit";
import { sagemakerStandInConfigSchema } from "@gapfill/contracts";
import type { S3TestServer } from "./s3.ts";

const JOB_NAME_PATTERN = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;
const ACCOUNT = "123456789012";

export type TrainingJobStatus = "InProgress" | "Completed" | "Failed" | "Stopping" | "Stopped";

export interface RecordedSageMakerRequest {
  operation: string;
  body: Record<string, unknown>;
  /** From the SigV4 Authorization header's credential scope: what the client signed for. */
  signedFor: { region: string; service: string } | null;
  at: number;
}

export interface StandInJob {
  name: string;
  request: Record<string, unknown>;
  status: TrainingJobStatus;
  secondaryStatus: string;
  failureReason?: string;
  modelArtifacts?: string;
  /** What the program printed, for a test's failure message. */
  output: string;
  /** The program's exit status once it ended. */
  exitCode: number | null;
}

export interface SageMakerError {
  type: string;
  message: string;
  status?: number;
}

export interface SageMakerStandInOptions {
  /** Where channels, sourcedirs and job output are (the jobs' S3). */
  s3: S3TestServer;
  region?: string;
  /** Keep every job InProgress (Training) after its program ended, until release(). */
  holdJobs?: boolean;
  /** How long each secondary status shows before the next, ms. */
  stepMs?: number;
  /** Awaited before a job downloads its channel: a test's chance to change what the job will read. */
  beforeDownload?: (jobName: string) => Promise<void>;
  /** Environment the stand-in's own settings are read from (TRAIN_PYTHON). */
  env?: Record<string, string | undefined>;
}

export interface SageMakerStandIn {
  /** For the client's `endpoint` (SAGEMAKER_ENDPOINT). */
  endpoint: string;
  region: string;
  requests: RecordedSageMakerRequest[];
  requestsOf(operation: string): RecordedSageMakerRequest[];
  jobs: Map<string, StandInJob>;
  /** The next `count` requests of `operation` fail with `error` (before any effect). */
  failNext(operation: string, count: number, error: SageMakerError): void;
  /** Lets held jobs (holdJobs) go on to their end; all of them when no name is given. */
  release(jobName?: string): void;
  close(): Promise<void>;
}

class ApiError extends Error {
  readonly type: string;
  readonly status: number;

  constructor(
    type: string,
    message: string,
    status = 400,
  ) {
    super(message);
    this.type = type;
    this.status = status;
  }
}

const seconds = (ms: number) => ms / 1000;

/** `s3://bucket/a/b` → key `a/b` in the stand-in's bucket (another bucket is refused, as AWS would deny it). */
function keyOf(uri: string, bucket: string, field: string): string {
  const match = /^s3:\/\/([^/]+)\/(.*)$/.exec(uri);
  if (!match) throw new ApiError("ValidationException", `${field}: ${JSON.stringify(uri)} is not an s3:// URI`);
  if (match[1] !== bucket) throw new ApiError("ValidationException", `${field}: bucket ${match[1]} is not reachable (only ${bucket})`);
  return match[2]!;
}

function objectField(body: Record<string, unknown>, path: string): unknown {
  return path.split(".").reduce<unknown>((value, key) => (value as Record<string, unknown> | undefined)?.[key], body);
}

export async function startSageMakerStandIn(options: SageMakerStandInOptions): Promise<SageMakerStandIn> {
  const { s3 } = options;
  const region = options.region ?? s3.region;
  const stepMs = options.stepMs ?? 50;
  const { TRAIN_PYTHON } = loadConfig(sagemakerStandInConfigSchema, "sagemaker-stand-in", options.env ?? process.env);
  const objects: ObjectStore = openS3ObjectStore({ bucket: s3.bucket, region: s3.region, endpoint: s3.endpoint, credentials: s3.credentials });
  const workDir = await mkdtemp(join(tmpdir(), "gapfill-sagemaker-"));
  const requests: RecordedSageMakerRequest[] = [];
  type Job = StandInJob & {
    transitions: { Status: string; StartTime: number; EndTime?: number }[];
    created: number;
    modified: number;
    started?: number;
    ended?: number;
    child?: ChildProcess | undefined;
    stop?: () => void;
  };
  const jobs = new Map<string, Job>();
  const faults = new Map<string, { count: number; error: SageMakerError }>();
  const held = new Set<string>();
  const releases = new Map<string, () => void>();
  const running: Promise<void>[] = [];
  let closing = false;

  const setStatus = (job: Job, status: TrainingJobStatus, secondary: string) => {
    const now = Date.now();
    const last = job.transitions.at(-1);
    if (last && last.Status !== secondary) last.EndTime = seconds(now);
    if (!last || last.Status !== secondary) job.transitions.push({ Status: secondary, StartTime: seconds(now) });
    job.status = status;
    job.secondaryStatus = secondary;
    job.modified = now;
  };
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  async function download(prefixUri: string, into: string): Promise<void> {
    const prefix = keyOf(prefixUri, s3.bucket, "S3Uri");
    const listed = await objects.list(prefix);
    if (listed.length === 0) throw new Error(`ClientError: no objects under ${prefixUri}`);
    for (const info of listed) {
      const target = join(into, info.key.slice(prefix.length).replace(/^\/+/, ""));
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, await objects.get(info.key));
    }
  }

  async function tarGz(dir: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of createTar({ gzip: true, cwd: dir, portable: true }, await readdir(dir))) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  async function runJob(job: Job): Promise<void> {
    const request = job.request;
    const root = join(workDir, job.name);
    const dirs = { code: join(root, "code"), channel: join(root, "input/data/train"), config: join(root, "input/config"), model: join(root, "model"), output: join(root, "output"), outputData: join(root, "output/data") };
    await Promise.all(Object.values(dirs).map((dir) => mkdir(dir, { recursive: true })));
    const hyperparameters = (request.HyperParameters ?? {}) as Record<string, string>;
    const decoded = Object.fromEntries(Object.entries(hyperparameters).map(([name, value]) => [name, JSON.parse(value) as unknown]));
    const fail = (reason: string) => {
      setStatus(job, "Failed", "Failed");
      job.failureReason = reason;
      job.ended = Date.now();
    };
    const channels = (request.InputDataConfig ?? []) as { ChannelName: string; DataSource: { S3DataSource: { S3Uri: string } } }[];
    try {
      await pause(stepMs);
      await options.beforeDownload?.(job.name);
      setStatus(job, "InProgress", "Downloading");
      for (const channel of channels) await download(channel.DataSource.S3DataSource.S3Uri, join(root, "input/data", channel.ChannelName));
      const sourceKey = keyOf(String(decoded.sagemaker_submit_directory), s3.bucket, "sagemaker_submit_directory");
      await new Promise<void>((resolve, reject) => {
        const sink = extractTar({ cwd: dirs.code, strict: true });
        sink.once("finish", () => resolve()).once("error", reject);
        void objects.get(sourceKey).then((bytes) => Readable.from([bytes]).pipe(sink), reject);
      });
      await writeFile(join(dirs.config, "hyperparameters.json"), JSON.stringify(hyperparameters));
    } catch (error) {
      fail(`ClientError: ${(error as Error).message}`);
      return;
    }
    if ((job.status as TrainingJobStatus) === "Stopping") {
      setStatus(job, "Stopped", "Stopped");
      return;
    }
    setStatus(job, "InProgress", "Training");
    job.started = Date.now();
    const args = Object.entries(decoded)
      .filter(([name]) => !name.startsWith("sagemaker_"))
      .flatMap(([name, value]) => [`--${name}`, typeof value === "string" ? value : JSON.stringify(value)]);
    const child = spawn(TRAIN_PYTHON, [join(dirs.code, String(decoded.sagemaker_program)), ...args], {
      cwd: dirs.code,
      env: {
        PATH: process.env.PATH,
        SM_CHANNEL_TRAIN: dirs.channel,
        SM_CHANNELS: JSON.stringify(channels.map((channel) => channel.ChannelName)),
        SM_MODEL_DIR: dirs.model,
        SM_OUTPUT_DIR: dirs.output,
        SM_OUTPUT_DATA_DIR: dirs.outputData,
        SM_HPS: JSON.stringify(Object.fromEntries(Object.entries(decoded).filter(([name]) => !name.startsWith("sagemaker_")))),
        SM_CURRENT_HOST: "algo-1",
        // One core: other tests share this machine.
        OMP_NUM_THREADS: "1",
      },
    });
    job.child = child;
    child.stdout.on("data", (chunk: Buffer) => (job.output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (job.output += chunk.toString()));
    const maxRuntimeMs = Number(objectField(request, "StoppingCondition.MaxRuntimeInSeconds") ?? 86_400) * 1000;
    let stoppedBy: "request" | "runtime" | null = null;
    const runtime = setTimeout(() => {
      stoppedBy = "runtime";
      child.kill("SIGTERM");
    }, maxRuntimeMs);
    job.stop = () => {
      stoppedBy = "request";
      child.kill("SIGTERM");
    };
    const [code] = (await once(child, "close")) as [number | null];
    clearTimeout(runtime);
    job.exitCode = code;
    job.child = undefined;
    if (stoppedBy === "runtime") {
      setStatus(job, "Stopped", "MaxRuntimeExceeded");
      job.failureReason = `Training job reached the maximum runtime of ${maxRuntimeMs / 1000} seconds`;
      job.ended = Date.now();
      return;
    }
    if (stoppedBy === "request" || closing) {
      setStatus(job, "Stopped", "Stopped");
      job.ended = Date.now();
      return;
    }
    if (code !== 0) {
      const failure = await readFile(join(dirs.output, "failure"), "utf8").catch(() => `exit code ${code}`);
      fail(`AlgorithmError: ${failure.trim()}`);
      return;
    }
    if (held.has(job.name)) await new Promise<void>((resolve) => releases.set(job.name, resolve));
    if (closing) return;
    setStatus(job, "InProgress", "Uploading");
    const outputKey = keyOf(String(objectField(request, "OutputDataConfig.S3OutputPath")).replace(/\/*$/, "/"), s3.bucket, "S3OutputPath");
    const artifactKey = `${outputKey}${job.name}/output/model.tar.gz`;
    await objects.put(artifactKey, await tarGz(dirs.model));
    if ((await readdir(dirs.outputData)).length > 0) await objects.put(`${outputKey}${job.name}/output/output.tar.gz`, await tarGz(dirs.outputData));
    await pause(stepMs);
    job.modelArtifacts = `s3://${s3.bucket}/${artifactKey}`;
    job.ended = Date.now();
    setStatus(job, "Completed", "Completed");
  }

  function createTrainingJob(body: Record<string, unknown>) {
    const name = body.TrainingJobName;
    if (typeof name !== "string" || !JOB_NAME_PATTERN.test(name)) {
      throw new ApiError("ValidationException", `1 validation error detected: Value '${String(name)}' at 'trainingJobName' failed to satisfy constraint: Member must satisfy regular expression pattern: ${JOB_NAME_PATTERN.source}`);
    }
    for (const field of ["RoleArn", "AlgorithmSpecification.TrainingImage", "OutputDataConfig.S3OutputPath", "ResourceConfig.InstanceType", "StoppingCondition.MaxRuntimeInSeconds"]) {
      if (objectField(body, field) === undefined) throw new ApiError("ValidationException", `1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`);
    }
    if (jobs.has(name)) {
      throw new ApiError("ResourceInUse", `Training job names must be unique within an AWS account and region, and a training job with this name already exists (${arnOf(name)})`);
    }
    const now = Date.now();
    const job: Job = { name, request: body, status: "InProgress", secondaryStatus: "Starting", output: "", exitCode: null, transitions: [{ Status: "Starting", StartTime: seconds(now) }], created: now, modified: now };
    jobs.set(name, job);
    if (options.holdJobs) held.add(name);
    running.push(runJob(job).catch((error: unknown) => {
      setStatus(job, "Failed", "Failed");
      job.failureReason = `InternalServerError: ${(error as Error).message}`;
    }));
    return { TrainingJobArn: arnOf(name) };
  }

  const arnOf = (name: string) => `arn:aws:sagemaker:${region}:${ACCOUNT}:training-job/${name.toLowerCase()}`;

  function jobOf(body: Record<string, unknown>) {
    const job = jobs.get(String(body.TrainingJobName));
    if (!job) throw new ApiError("ValidationException", "Requested resource not found.");
    return job;
  }

  function describeTrainingJob(body: Record<string, unknown>) {
    const job = jobOf(body);
    const request = job.request;
    return {
      TrainingJobName: job.name,
      TrainingJobArn: arnOf(job.name),
      TrainingJobStatus: job.status,
      SecondaryStatus: job.secondaryStatus,
      ...(job.failureReason ? { FailureReason: job.failureReason } : {}),
      ...(job.modelArtifacts ? { ModelArtifacts: { S3ModelArtifacts: job.modelArtifacts } } : {}),
      AlgorithmSpecification: request.AlgorithmSpecification,
      RoleArn: request.RoleArn,
      HyperParameters: request.HyperParameters,
      InputDataConfig: request.InputDataConfig,
      OutputDataConfig: request.OutputDataConfig,
      ResourceConfig: request.ResourceConfig,
      StoppingCondition: request.StoppingCondition,
      CreationTime: seconds(job.created),
      LastModifiedTime: seconds(job.modified),
      ...(job.started ? { TrainingStartTime: seconds(job.started) } : {}),
      ...(job.ended ? { TrainingEndTime: seconds(job.ended) } : {}),
      SecondaryStatusTransitions: job.transitions,
    };
  }

  function stopTrainingJob(body: Record<string, unknown>) {
    const job = jobOf(body);
    if (job.status !== "InProgress") throw new ApiError("ValidationException", `The request was rejected because the training job is in status ${job.status}.`);
    setStatus(job, "Stopping", "Stopping");
    job.stop?.();
    releases.get(job.name)?.();
    return {};
  }

  const operations: Record<string, (body: Record<string, unknown>) => unknown> = {
    CreateTrainingJob: createTrainingJob,
    DescribeTrainingJob: describeTrainingJob,
    StopTrainingJob: stopTrainingJob,
  };

  const send = (res: ServerResponse, status: number, body: unknown, errorType?: string) => {
    res.writeHead(status, { "content-type": "application/x-amz-json-1.1", ...(errorType ? { "x-amzn-errortype": errorType } : {}) });
    res.end(JSON.stringify(body));
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const target = String(req.headers["x-amz-target"] ?? "");
    const operation = target.replace(/^SageMaker\./, "");
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<string, unknown>;
    } catch {
      send(res, 400, { __type: "SerializationException", message: "body is not JSON" }, "SerializationException");
      return;
    }
    const scope = /Credential=[^/]+\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(String(req.headers.authorization ?? ""));
    requests.push({ operation, body, signedFor: scope ? { region: scope[1]!, service: scope[2]! } : null, at: Date.now() });
    const handler = operations[operation];
    if (req.method !== "POST" || !handler) {
      send(res, 400, { __type: "UnknownOperationException", message: `unknown operation ${JSON.stringify(target)}` }, "UnknownOperationException");
      return;
    }
    const fault = faults.get(operation);
    if (fault && fault.count > 0) {
      fault.count--;
      send(res, fault.error.status ?? 400, { __type: fault.error.type, message: fault.error.message }, fault.error.type);
      return;
    }
    try {
      send(res, 200, handler(body));
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      send(res, error.status, { __type: error.type, message: error.message }, error.type);
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => send(res, 500, { __type: "InternalFailure", message: (error as Error).message }, "InternalFailure"));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    region,
    requests,
    requestsOf: (operation) => requests.filter((request) => request.operation === operation),
    jobs: jobs as Map<string, StandInJob>,
    failNext(operation, count, error) {
      faults.set(operation, { count, error });
    },
    release(jobName) {
      for (const name of jobName ? [jobName] : [...held]) {
        held.delete(name);
        releases.get(name)?.();
        releases.delete(name);
      }
    },
    async close() {
      closing = true;
      for (const job of jobs.values()) job.child?.kill("SIGTERM");
      for (const release of releases.values()) release();
      await Promise.allSettled(running);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await objects.close();
      await rm(workDir, { recursive: true, force: true });
    },
  };
}
