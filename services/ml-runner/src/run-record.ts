import { z } from "zod";
import {
  gateDecisionSchema,
  modelManifestSchema,
  RUN_OUTCOMES,
  runStepSchema,
  TRAINER_KINDS,
  tickEventSchema,
  trainingMetricsSchema,
  trainingSetManifestSchema,
} from "@gapfill/contracts";
import { ObjectNotFoundError, type ObjectStore } from "@gapfill/kit";

/** `<TRAIN_PREFIX>/<run_id>/run.json`: each run's record. */
export const RUN_RECORD_FILE = "run.json";

const isoTime = z.iso.datetime();
const timed = { started_at: isoTime, finished_at: isoTime, duration_ms: z.number().nonnegative() };

/**
 * What a run has done, step by step, written after every step: a redelivered or repeated tick reads it and resumes
 * at the first step not done, or skips a run that has ended, so no run trains or publishes twice.
 */
export const runRecordSchema = z.strictObject({
  run_id: z.string().min(1),
  tick: tickEventSchema,
  /** running: not ended (a delivery may be working on it, or died); the other three are final. */
  state: z.enum(["running", "skipped", "finished", "failed"]),
  created_at: isoTime,
  updated_at: isoTime,
  /** The latest delivery of the tick that worked on the run. */
  delivery: z.number().int().positive(),
  export: z.strictObject({ ...timed, manifest: trainingSetManifestSchema, unlabelled: z.number().int().nonnegative(), bytes: z.number().int().nonnegative() }).optional(),
  train: z
    .strictObject({
      trainer: z.enum(TRAINER_KINDS),
      /** Set as soon as an external job exists, before its result. */
      job_name: z.string().nullable(),
      instance_type: z.string().nullable(),
      started_at: isoTime,
      finished_at: isoTime.optional(),
      duration_ms: z.number().nonnegative().optional(),
      metrics: trainingMetricsSchema.optional(),
    })
    .optional(),
  evaluate: z.strictObject({ ...timed, gate: gateDecisionSchema }).optional(),
  /** The latest.json the run writes, fixed before the first write so a resumed publish writes the same bytes. */
  publish: z.strictObject({ started_at: isoTime, manifest: modelManifestSchema, finished_at: isoTime.optional(), duration_ms: z.number().nonnegative().optional() }).optional(),
  outcome: z.strictObject({ outcome: z.enum(RUN_OUTCOMES), reason: z.string() }).optional(),
  failure: z.strictObject({ step: z.union([runStepSchema, z.literal("deliveries")]), reason: z.string(), delivery: z.number().int().positive() }).optional(),
});
export type RunRecord = z.infer<typeof runRecordSchema>;

export const runRecordKey = (runPrefix: string) => `${runPrefix}/${RUN_RECORD_FILE}`;

export async function readRunRecord(objects: ObjectStore, runPrefix: string): Promise<RunRecord | null> {
  try {
    return runRecordSchema.parse(JSON.parse((await objects.get(runRecordKey(runPrefix))).toString("utf8")));
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return null;
    throw error;
  }
}

export async function writeRunRecord(objects: ObjectStore, runPrefix: string, record: RunRecord): Promise<void> {
  await objects.put(runRecordKey(runPrefix), `${JSON.stringify(runRecordSchema.parse(record), null, 2)}\n`);
}
