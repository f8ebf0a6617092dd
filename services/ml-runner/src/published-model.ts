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
import { ObjectNotFoundError, sha256Hex, type ObjectStore } from "@gapfill/kit";

/** The files of a published version, side by side under `<MODEL_PREFIX>/<version>/`. */
export const MODEL_FILE = "model.onnx";
export const METRICS_FILE = "metrics.json";
/** The version's own copy of the latest.json that published it: what a promotion by hand points back to. */
export const VERSION_MANIFEST_FILE = "model.json";

/** A published model file that is missing, unreadable or not the bytes its manifest names. */
export class PublishedModelError extends Error {
  override name = "PublishedModelError";
}

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

/** The manifest at `key` (latest.json, or a version's model.json); null when there is none. */
export async function readModelManifest(objects: ObjectStore, key: string): Promise<ModelManifest | null> {
  let text: string;
  try {
    text = (await objects.get(key)).toString("utf8");
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return null;
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new PublishedModelError(`${key} is not JSON: ${(error as Error).message}`);
  }
  const parsed = modelManifestSchema.safeParse(json);
  if (!parsed.success) throw new PublishedModelError(`${key} is not a model manifest: ${parsed.error.message}`);
  return parsed.data;
}

/** A manifest's artifact, checked against the sha256 the manifest records for it. */
export async function readArtifact(objects: ObjectStore, manifest: ModelManifest, role: string): Promise<Buffer> {
  const key = manifest.artifacts[role];
  if (!key) throw new PublishedModelError(`model ${manifest.version} names no ${role} artifact`);
  let bytes: Buffer;
  try {
    bytes = await objects.get(key);
  } catch (error) {
    if (error instanceof ObjectNotFoundError) throw new PublishedModelError(`model ${manifest.version}: ${key} is missing`);
    throw error;
  }
  const expected = manifest.sha256[role];
  const actual = sha256Hex(bytes);
  if (expected !== actual) throw new PublishedModelError(`model ${manifest.version}: ${key} has sha256 ${actual}, its manifest says ${expected}`);
  return bytes;
}
