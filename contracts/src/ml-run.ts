import { z } from "zod";
import { holdoutMetricsSchema, modelVersionSchema, trainingMetricsSchema } from "./model.ts";
import { tickEventSchema, type TickEvent } from "./ticks.ts";

/**
 * A retrain run: what ml-runner does for one retrain tick, and the messages it publishes about it on the ML events
 * stream (`ml.run.started|finished|failed`, `ml.model.published`).
 */
export const RUN_STEPS = ["export", "train", "evaluate", "publish"] as const;
export const runStepSchema = z.enum(RUN_STEPS);
export type RunStep = z.infer<typeof runStepSchema>;

export const TRAINER_KINDS = ["local", "sagemaker"] as const;
export type TrainerKind = (typeof TRAINER_KINDS)[number];

/** `20261201T130000Z`: an epoch-ms time as a compact UTC stamp, safe in keys, file names and job names. */
export function compactUtc(epochMs: number): string {
  return new Date(epochMs).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}Z$/, "Z");
}

/**
 * The run of a tick, named by its kind and window alone (`retrain-20261201T130000Z`), so a redelivered or repeated
 * tick, on any runner, finds the same run. Also the version of the model the run publishes.
 */
export function runIdOf(tick: Pick<TickEvent, "kind" | "window_start">): string {
  return `${tick.kind}-${compactUtc(tick.window_start)}`;
}

const runId = modelVersionSchema;
const isoTime = z.iso.datetime();
const count = z.number().int().nonnegative();

/** What the gate decided, with the candidate's and the published model's scores on the same holdout. */
export const gateDecisionSchema = z.strictObject({
  promote: z.boolean(),
  reason: z.string().min(1),
  tolerance: z.number().nonnegative(),
  /** Null when the candidate broke the scoring contract. */
  candidate: holdoutMetricsSchema.nullable(),
  /** Null when no model was published, or it could not be scored. */
  current: holdoutMetricsSchema.nullable(),
  current_version: modelVersionSchema.nullable(),
});
export type GateDecision = z.infer<typeof gateDecisionSchema>;

/**
 * `metrics.json` beside a run's candidate and a published model.onnx: the trainer's metrics (its split and holdout
 * scores) and the gate's decision.
 */
export const modelMetricsSchema = trainingMetricsSchema.extend({ gate: gateDecisionSchema });
export type ModelMetrics = z.infer<typeof modelMetricsSchema>;

export const runStartedEventSchema = z.strictObject({
  run_id: runId,
  tick: tickEventSchema,
  trainer: z.enum(TRAINER_KINDS),
  /** JetStream delivery of the tick (1 for the first). */
  delivery: z.number().int().positive(),
  /** The first step still to do when a run resumes; null for a fresh run. */
  resumed_at: runStepSchema.nullable(),
  at: isoTime,
});
export type RunStartedEvent = z.infer<typeof runStartedEventSchema>;

export const RUN_OUTCOMES = ["promoted", "rejected", "skipped"] as const;
export type RunOutcome = (typeof RUN_OUTCOMES)[number];

export const runFinishedEventSchema = z.strictObject({
  run_id: runId,
  /** promoted: published as latest; rejected: the gate kept the published model; skipped: too little data. */
  outcome: z.enum(RUN_OUTCOMES),
  reason: z.string().min(1),
  /** The version published (the run id), or null. */
  version: modelVersionSchema.nullable(),
  rows: count,
  positives: count,
  /** Duration of each step that ran, over every delivery of the tick. */
  timings_ms: z.partialRecord(runStepSchema, z.number().nonnegative()),
  gate: gateDecisionSchema.nullable(),
  at: isoTime,
});
export type RunFinishedEvent = z.infer<typeof runFinishedEventSchema>;

export const runFailedEventSchema = z.strictObject({
  run_id: runId,
  /** The step that failed; `deliveries` when the tick was delivered more often than allowed. */
  step: z.union([runStepSchema, z.literal("deliveries")]),
  reason: z.string().min(1),
  delivery: z.number().int().positive(),
  /** True when the run is given up; false when the tick will be delivered again. */
  final: z.boolean(),
  job_name: z.string().min(1).nullable(),
  at: isoTime,
});
export type RunFailedEvent = z.infer<typeof runFailedEventSchema>;

/** `ml.model.published`: latest.json now names `version` (after a run's promotion, or a promotion by hand). */
export const modelPublishedEventSchema = z.strictObject({
  version: modelVersionSchema,
  /** Object key of the pointer (MODEL_JSON). */
  manifest: z.string().min(1),
  /** sha256 of the published model.onnx. */
  onnx_sha256: z.string().regex(/^[0-9a-f]{64}$/),
  run_id: runId.nullable(),
  /** run: a retrain run's gate; cli: `npm run model -- promote` (a rollback, or a forward roll by hand). */
  promoted_by: z.enum(["run", "cli"]),
  at: isoTime,
});
export type ModelPublishedEvent = z.infer<typeof modelPublishedEventSchema>;
