import {
  modelMetricsSchema,
  RUN_STEPS,
  runIdOf,
  type GateDecision,
  type RunOutcome,
  type RunStep,
  type TickEvent,
  type TrainingHyperparameters,
} from "@gapfill/contracts";
import type { Logger, ObjectStore, Store } from "@gapfill/kit";
import { gateCandidate } from "./evaluate.ts";
import type { RunEvents } from "./events.ts";
import { exportTrainingSet } from "./export.ts";
import type { RunnerMetrics } from "./metrics.ts";
import { rowRange, timeOrderedSplit, TrainingDataError, type LabelledRows } from "./model/index.ts";
import { publishVersion } from "./publish.ts";
import { METRICS_FILE, MODEL_FILE, modelManifestFor } from "./published-model.ts";
import { readRunRecord, writeRunRecord, type RunRecord } from "./run-record.ts";
import { TrainingJobFailedError, type Trainer } from "./trainer.ts";
import { readTrainingSet } from "./training-set.ts";

export interface RunSettings {
  trainPrefix: string;
  modelPrefix: string;
  /** MODEL_JSON. */
  modelJsonKey: string;
  /** TRAIN_WINDOW_HOURS in ms: rows with ts in [window start − windowMs, window start). */
  windowMs: number;
  minRows: number;
  tolerance: number;
  /** With horizon_ms = ML_HORIZON_SECONDS, which also labels the rows. */
  hp: TrainingHyperparameters;
  featureVersion: string;
  dimension: number;
  /** Embeddings per store query during the export (default the store's). */
  exportPageSize?: number;
}

export interface RunDeps {
  store: Store;
  objects: ObjectStore;
  trainer: Trainer;
  events: RunEvents;
  metrics: RunnerMetrics;
  log: Logger;
  now?: () => Date;
}

/** A step of a run failed; `final` when delivering the tick again cannot help (the training job failed). */
export class RunStepError extends Error {
  override name = "RunStepError";
  readonly step: RunStep;
  readonly final: boolean;
  readonly jobName: string | null;

  constructor(
    step: RunStep,
    final: boolean,
    jobName: string | null,
    cause: unknown,
  ) {
    super(`${step}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.step = step;
    this.final = final;
    this.jobName = jobName;
  }
}

export type RunResult =
  | { ended: "now"; outcome: RunOutcome; reason: string; version: string | null }
  /** The record says the run ended on an earlier delivery or an earlier tick of the same window. */
  | { ended: "before"; state: RunRecord["state"] };

export const runPrefixOf = (trainPrefix: string, runId: string) => `${trainPrefix}/${runId}`;

/** The first step a resumed run still has to do (publish only when the gate promoted). */
function nextStep(record: RunRecord): RunStep | null {
  if (!record.export) return "export";
  if (!record.train?.finished_at) return "train";
  if (!record.evaluate) return "evaluate";
  if (record.evaluate.gate.promote && !record.publish?.finished_at) return "publish";
  return null;
}

function timingsOf(record: RunRecord): Partial<Record<RunStep, number>> {
  const timings: Partial<Record<RunStep, number>> = {};
  for (const step of RUN_STEPS) {
    const duration = record[step]?.duration_ms;
    if (duration !== undefined) timings[step] = duration;
  }
  return timings;
}

/**
 * Which attempt at the tick's run a delivery is: JetStream's delivery count, or one more than the attempt the run
 * record saw last when that is higher. The count alone undercounts: a tick handed back at a stop can be swallowed by
 * the stopping process's last pull request, come back only after the ack wait, and NATS 2.9 then delivers it with
 * the count started again at 1. An unreadable record leaves the count as it is (the run itself will then fail).
 */
export async function attemptOf(
  deps: Pick<RunDeps, "objects">,
  settings: Pick<RunSettings, "trainPrefix">,
  tick: TickEvent,
  deliveryCount: number,
): Promise<number> {
  const record = await readRunRecord(deps.objects, runPrefixOf(settings.trainPrefix, runIdOf(tick))).catch(() => null);
  return record?.state === "running" ? Math.max(deliveryCount, record.delivery + 1) : deliveryCount;
}

/**
 * One retrain run for a tick, resumable: export → train → evaluate and gate → publish, each step recorded in
 * `<TRAIN_PREFIX>/<run_id>/run.json` when done. A delivery finding the run ended returns at once; one finding it
 * part done goes on from the first step not done (a SageMaker job created before is followed, not created again).
 * Too little data ends the run as skipped. Throws a RunStepError naming the failed step.
 */
export async function executeRun(deps: RunDeps, settings: RunSettings, tick: TickEvent, delivery: number, signal: AbortSignal): Promise<RunResult> {
  const { objects, events, metrics } = deps;
  const now = deps.now ?? (() => new Date());
  const runId = runIdOf(tick);
  const prefix = runPrefixOf(settings.trainPrefix, runId);
  const log = deps.log.child({ run: runId });

  const found = await readRunRecord(objects, prefix);
  if (found && found.state !== "running") {
    log.info({ state: found.state, outcome: found.outcome?.outcome ?? null }, `run ${found.state} before; tick acknowledged without running again`);
    return { ended: "before", state: found.state };
  }
  const startedAt = now().toISOString();
  const record: RunRecord = found
    ? { ...found, delivery, updated_at: startedAt }
    : { run_id: runId, tick, state: "running", created_at: startedAt, updated_at: startedAt, delivery };
  const save = async () => {
    record.updated_at = now().toISOString();
    await writeRunRecord(objects, prefix, record);
  };
  const resumedAt = found ? nextStep(found) : null;
  await save();
  await events.started({ run_id: runId, tick, trainer: deps.trainer.kind, delivery, resumed_at: resumedAt, at: startedAt });
  log.info({ delivery, trainer: deps.trainer.kind, ...(found ? { resumedAt } : {}) }, found ? `run resumed at ${resumedAt ?? "its end"}` : "run started");

  /** Runs one step, timing it and naming it in any error. */
  async function step<T>(name: RunStep, work: (startedAt: string) => Promise<T>): Promise<{ value: T; timing: { started_at: string; finished_at: string; duration_ms: number } }> {
    // A stop that came while the last step finished: no new step starts (its work may not notice an aborted signal).
    signal.throwIfAborted();
    const started = now();
    const clock = performance.now();
    try {
      const value = await work(started.toISOString());
      const durationMs = Math.round(performance.now() - clock);
      metrics.stepSeconds.observe({ step: name }, durationMs / 1000);
      return { value, timing: { started_at: started.toISOString(), finished_at: now().toISOString(), duration_ms: durationMs } };
    } catch (error) {
      if (signal.aborted) throw error;
      const final = error instanceof TrainingJobFailedError;
      throw new RunStepError(name, final, final ? error.jobName : (record.train?.job_name ?? null), error);
    }
  }

  async function end(outcome: RunOutcome, reason: string, gate: GateDecision | null): Promise<RunResult> {
    record.state = outcome === "skipped" ? "skipped" : "finished";
    record.outcome = { outcome, reason };
    await save();
    const version = outcome === "promoted" ? runId : null;
    const { rows = 0, positives = 0 } = record.export?.manifest ?? {};
    await events.finished({ run_id: runId, outcome, reason, version, rows, positives, timings_ms: timingsOf(record), gate, at: now().toISOString() });
    metrics.runs.inc({ outcome });
    return { ended: "now", outcome, reason, version };
  }

  if (!record.export) {
    const to = tick.window_start;
    const window = { from: to - settings.windowMs, to };
    const { value, timing } = await step("export", () =>
      exportTrainingSet(deps, {
        prefix,
        window,
        horizonMs: settings.hp.horizon_ms,
        featureVersion: settings.featureVersion,
        dimension: settings.dimension,
        signal,
        ...(settings.exportPageSize === undefined ? {} : { pageSize: settings.exportPageSize }),
      }),
    );
    record.export = { ...timing, manifest: value.manifest, unlabelled: value.unlabelled, bytes: value.bytes };
    await save();
    metrics.rowsExported.inc(value.manifest.rows);
    log.info(
      { rows: value.manifest.rows, positives: value.manifest.positives, unlabelled: value.unlabelled, bytes: value.bytes, seconds: timing.duration_ms / 1000, window },
      `exported ${value.manifest.rows} labelled rows (${value.unlabelled} left out without a bar ${settings.hp.horizon_ms / 1000} s later)`,
    );
  }
  const { rows: rowCount, positives } = record.export.manifest;
  const tooLittle =
    rowCount < settings.minRows
      ? `${rowCount} labelled rows in the window, fewer than ML_MIN_ROWS=${settings.minRows}`
      : positives === 0 || positives === rowCount
        ? `the ${rowCount} labelled rows are of one class only (${positives} up)`
        : null;
  if (tooLittle) {
    log.warn({ rows: rowCount, positives, minRows: settings.minRows }, `run skipped, too little data: ${tooLittle}`);
    return end("skipped", `too little data: ${tooLittle}`, null);
  }

  // Training and the gate read the exported rows back (checked against the manifest); a resumed publish does not.
  let columns: LabelledRows | null = null;
  let holdoutStart = 0;
  if (!record.train?.finished_at || !record.evaluate) {
    try {
      columns = (await readTrainingSet(objects, prefix)).rows;
      holdoutStart = timeOrderedSplit(columns.ts, { holdoutFraction: settings.hp.holdout_fraction, horizonMs: settings.hp.horizon_ms }).holdoutStart;
    } catch (error) {
      if (!(error instanceof TrainingDataError) || columns === null) throw new RunStepError("train", false, null, error);
      log.warn({ rows: rowCount }, `run skipped, too little data: ${error.message}`);
      return end("skipped", `too little data: ${error.message}`, null);
    }
  }

  if (!record.train?.finished_at) {
    const trainStarted = now().toISOString();
    record.train = { trainer: deps.trainer.kind, job_name: record.train?.job_name ?? null, instance_type: null, started_at: trainStarted };
    await save();
    const rows = columns!;
    const { value: candidate, timing } = await step("train", () =>
      deps.trainer.train({
        runId,
        runPrefix: prefix,
        rows,
        hp: settings.hp,
        log,
        signal,
        onJob: async (jobName) => {
          record.train!.job_name = jobName;
          await save();
        },
      }),
    );
    await objects.put(`${prefix}/${MODEL_FILE}`, candidate.onnx);
    record.train = {
      trainer: deps.trainer.kind,
      job_name: candidate.jobName,
      instance_type: candidate.instanceType,
      started_at: trainStarted,
      finished_at: timing.finished_at,
      duration_ms: timing.duration_ms,
      metrics: candidate.metrics,
    };
    await save();
    log.info({ seconds: timing.duration_ms / 1000, job: candidate.jobName, metrics: candidate.metrics }, "candidate trained");
  }

  if (!record.evaluate) {
    const rows = columns!;
    const { value: gate, timing } = await step("evaluate", async () => {
      const decision = await gateCandidate({
        objects,
        modelJsonKey: settings.modelJsonKey,
        holdout: rowRange(rows, holdoutStart, rows.count),
        candidateOnnx: await objects.get(`${prefix}/${MODEL_FILE}`),
        tolerance: settings.tolerance,
        log,
      });
      const metricsFile = modelMetricsSchema.parse({ ...record.train!.metrics!, gate: decision });
      await objects.put(`${prefix}/${METRICS_FILE}`, `${JSON.stringify(metricsFile, null, 2)}\n`);
      return decision;
    });
    record.evaluate = { ...timing, gate };
    await save();
    log.info({ promote: gate.promote, candidate: gate.candidate, current: gate.current, currentVersion: gate.current_version }, `gate: ${gate.reason}`);
  }
  const { gate } = record.evaluate;
  if (!gate.promote) return end("rejected", gate.reason, gate);

  if (!record.publish?.finished_at) {
    const publishStarted = record.publish?.started_at ?? now().toISOString();
    const { value: manifest, timing } = await step("publish", async () => {
      const onnx = await objects.get(`${prefix}/${MODEL_FILE}`);
      const metricsText = (await objects.get(`${prefix}/${METRICS_FILE}`)).toString("utf8");
      const manifest =
        record.publish?.manifest ??
        modelManifestFor({
          version: runId,
          createdAt: new Date(publishStarted),
          modelPrefix: settings.modelPrefix,
          onnx,
          metricsText,
          dimension: settings.dimension,
          metrics: { ...gate.candidate!, train_rows: record.train!.metrics!.train_rows, embargoed_rows: record.train!.metrics!.embargoed_rows },
          trainer: { kind: record.train!.trainer, jobName: record.train!.job_name, instanceType: record.train!.instance_type },
        });
      record.publish = { started_at: publishStarted, manifest };
      await save();
      await publishVersion(
        { objects, events, modelJsonKey: settings.modelJsonKey },
        { modelPrefix: settings.modelPrefix, manifest, onnx, metricsText },
        { by: "run", runId },
        now(),
      );
      return manifest;
    });
    record.publish = { started_at: publishStarted, manifest, finished_at: timing.finished_at, duration_ms: timing.duration_ms };
    await save();
    log.info({ version: runId, modelJson: settings.modelJsonKey }, `published model ${runId}`);
  }
  return end("promoted", gate.reason, gate);
}

/**
 * Ends a run as failed (unless it ended otherwise before) and announces it: after a final step failure, or when the
 * tick arrives once more than ML_MAX_DELIVERIES allows. latest.json is never touched here.
 */
export async function failRun(
  deps: Pick<RunDeps, "objects" | "events" | "metrics" | "log" | "now">,
  settings: Pick<RunSettings, "trainPrefix">,
  tick: TickEvent,
  failure: { step: RunStep | "deliveries"; reason: string; delivery: number; jobName: string | null; final: boolean },
): Promise<void> {
  const now = deps.now ?? (() => new Date());
  const runId = runIdOf(tick);
  if (failure.final) {
    const prefix = runPrefixOf(settings.trainPrefix, runId);
    const record = await readRunRecord(deps.objects, prefix);
    if (record && record.state !== "running") return;
    const at = now().toISOString();
    const failed: RunRecord = record
      ? { ...record, state: "failed", updated_at: at, failure: { step: failure.step, reason: failure.reason, delivery: failure.delivery } }
      : { run_id: runId, tick, state: "failed", created_at: at, updated_at: at, delivery: failure.delivery, failure: { step: failure.step, reason: failure.reason, delivery: failure.delivery } };
    await writeRunRecord(deps.objects, prefix, failed);
    deps.metrics.runs.inc({ outcome: "failed" });
  }
  await deps.events.failed({
    run_id: runId,
    step: failure.step,
    reason: failure.reason,
    delivery: failure.delivery,
    final: failure.final,
    job_name: failure.jobName,
    at: now().toISOString(),
  });
}
