import { z } from "zod";

/** A model version (`version` of latest.json, `model_version` of ml_predictions): safe as a file name. */
export const modelVersionSchema = z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, "must be a file-name-safe version string");

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, "must be a lower-case hex SHA-256");
const tensorSpec = z.strictObject({
  name: z.string().min(1),
  /** Tensor shape; -1 marks a dynamic (batch) dimension. */
  dims: z.array(z.number().int().min(-1)).min(1),
});

/**
 * `model/latest.json`: the pointer ml-runner writes last, after the versioned files it names, so a reader never
 * sees a half-published model. `artifacts` maps an artifact role ("onnx", …) to its object key.
 */
export const modelManifestSchema = z.strictObject({
  version: modelVersionSchema,
  created_at: z.iso.datetime(),
  artifacts: z.record(z.string().min(1), z.string().min(1)).refine((a) => "onnx" in a, {
    message: "must include an onnx artifact",
  }),
  sha256: z.record(z.string().min(1), sha256Hex),
  input: tensorSpec,
  output: tensorSpec,
  metrics: z.record(z.string().min(1), z.number().finite()),
  trainer: z.strictObject({
    kind: z.enum(["sagemaker", "local"]),
    job_name: z.string().min(1).nullable(),
    instance_type: z.string().min(1).nullable(),
  }),
});
export type ModelManifest = z.infer<typeof modelManifestSchema>;

/** Object key of a versioned artifact under `MODEL_PREFIX`. */
export function modelArtifactKey(modelPrefix: string, version: string, file: string): string {
  return `${modelPrefix}/${version}/${file}`;
}
