import {
  MODEL_OUTPUT_SPEC,
  modelArtifactKey,
  modelInputSpec,
  modelManifestSchema,
  type HoldoutMetrics,
  type ModelManifest,
  type TrainerKind,
  type TrainingMetrics,
} from "@gapfill/contracts";
import { sha256Hex } from "@gapfill/kit";

/** The files of a published version, side by side under `<MODEL_PREFIX>/<version>/`. */
export const MODEL_FILE = "model.onnx";
export const METRICS_FILE = "metrics.json";
/** The version's own copy of the latest.json that published it: what a promotion by hand points back to. */
export const VERSION_MANIFEST_FILE = "model.json";

export interface ManifestInput {
  version: string;
  createdAt: Date;
  modelPrefix: string;
  onnx: Uint8Array;
  metricsText: string;
  dimension: number;
  /** The gate's scores of the model on the run's holdout, with the trainer's split. */
  metrics: HoldoutMetrics & Pick<TrainingMetrics, "train_rows" | "embargoed_rows">;
  trainer: { kind: TrainerKind; jobName: string | null; instanceType: string | null };
}

/** latest.json for a version: where its files are, their sha256, the scoring interface, its metrics and trainer. */
export function modelManifestFor(input: ManifestInput): ModelManifest {
  const key = (file: string) => modelArtifactKey(input.modelPrefix, input.version, file);
  return modelManifestSchema.parse({
    version: input.version,
    created_at: input.createdAt.toISOString(),
    artifacts: { onnx: key(MODEL_FILE), metrics: key(METRICS_FILE) },
    sha256: { onnx: sha256Hex(input.onnx), metrics: sha256Hex(input.metricsText) },
    input: modelInputSpec(input.dimension),
    output: MODEL_OUTPUT_SPEC,
    metrics: { ...input.metrics },
    trainer: { kind: input.trainer.kind, job_name: input.trainer.jobName, instance_type: input.trainer.instanceType },
  });
}
