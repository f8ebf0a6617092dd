import { z } from "zod";
import { symbolSchema } from "./symbol.ts";

/**
 * The scoring model's ONNX interface, the one thing ml-runner's trainers, train.py and ml-infer all agree on:
 * input `embedding` float32 [N, D] with a dynamic batch N, output `prob_up` float32 [N, 1] in [0, 1], opset 17.
 * D is the featurizer's embedding dimension, a parameter everywhere.
 */
export const MODEL_INPUT_NAME = "embedding";
export const MODEL_OUTPUT_NAME = "prob_up";
export const MODEL_OPSET = 17;

/** A row's label is 1 when the close LABEL_HORIZON_MS after its ts is above the close at its ts. */
export const LABEL_HORIZON_MS = 15 * 60_000;

/** Files of one training set, side by side under one prefix (and in SageMaker's `train` channel). */
export const TRAINING_ROWS_FILE = "train.jsonl";
export const TRAINING_MANIFEST_FILE = "manifest.json";

/** A model version (`version` of latest.json, `model_version` of ml_predictions): safe as a file name. */
export const modelVersionSchema = z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, "must be a file-name-safe version string");

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, "must be a lower-case hex SHA-256");
const epochMs = z.number().int("must be an integer epoch-ms time").nonnegative();
const count = z.number().int().nonnegative();
const dimension = z.number().int().positive("must be a positive embedding dimension");
const unitInterval = z.number().min(0).max(1);

const inputSpec = z.strictObject({
  name: z.literal(MODEL_INPUT_NAME),
  /** [-1 (dynamic batch), D]. */
  dims: z.tuple([z.literal(-1), dimension]),
});
const outputSpec = z.strictObject({
  name: z.literal(MODEL_OUTPUT_NAME),
  dims: z.tuple([z.literal(-1), z.literal(1)]),
});
export type ModelInputSpec = z.infer<typeof inputSpec>;
export type ModelOutputSpec = z.infer<typeof outputSpec>;

export function modelInputSpec(embeddingDim: number): ModelInputSpec {
  return { name: MODEL_INPUT_NAME, dims: [-1, embeddingDim] };
}
export const MODEL_OUTPUT_SPEC: ModelOutputSpec = { name: MODEL_OUTPUT_NAME, dims: [-1, 1] };

/**
 * The first output that breaks the contract (not a finite number in [0, 1]), described for an error or a gate
 * reason; null when every output is valid.
 */
export function probabilityViolation(probabilities: ArrayLike<number>): string | null {
  for (let i = 0; i < probabilities.length; i++) {
    const p = probabilities[i]!;
    if (!(p >= 0 && p <= 1)) return `${MODEL_OUTPUT_NAME}[${i}] is ${p}: expected a finite number in [0, 1]`;
  }
  return null;
}

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
  input: inputSpec,
  output: outputSpec,
  /** Holdout metrics (see trainingMetricsSchema); null where undefined, e.g. AUC on a one-class holdout. */
  metrics: z.record(z.string().min(1), z.number().finite().nullable()),
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

/** One line of `train.jsonl`: a bar's embedding and whether the close rose over the label horizon. */
export function trainingRowSchema(embeddingDim: number) {
  return z.strictObject({
    symbol: symbolSchema,
    ts: epochMs,
    embedding: z.array(z.number().finite()).length(embeddingDim, `must hold ${embeddingDim} numbers`),
    label: z.literal([0, 1], "must be 0 or 1"),
  });
}
export type TrainingRow = z.infer<ReturnType<typeof trainingRowSchema>>;

/**
 * `manifest.json` of a training set. `sha256` names every row file of the set (normally only TRAINING_ROWS_FILE)
 * with its digest; `window` bounds the rows' ts as [from, to).
 */
export const trainingSetManifestSchema = z
  .strictObject({
    rows: count,
    positives: count,
    window: z.strictObject({ from: epochMs, to: epochMs }),
    feature_version: z.string().min(1),
    dimension,
    label_horizon_ms: z.number().int().positive(),
    sha256: z
      .record(z.string(), sha256Hex)
      .refine((files) => Object.keys(files).length > 0, { message: "must name at least one row file" })
      .refine((files) => Object.keys(files).every((name) => /^[\w.-]+\.jsonl$/.test(name)), {
        message: "row files must be plain .jsonl file names",
      }),
  })
  .refine((m) => m.positives <= m.rows, { path: ["positives"], message: "must be <= rows" })
  .refine((m) => m.window.from <= m.window.to, { path: ["window", "to"], message: "must be >= window.from" });
export type TrainingSetManifest = z.infer<typeof trainingSetManifestSchema>;

/**
 * Hyperparameters of one training run, shared by the in-process trainer and train.py (which SageMaker passes them
 * to as `--name value`; its argparse defaults are these). The embargo drops training rows whose label horizon
 * (`ts + horizon_ms`) reaches the first holdout ts.
 */
export const trainingHyperparametersSchema = z.strictObject({
  seed: z.number().int().nonnegative().default(1),
  epochs: z.number().int().positive().default(12),
  hidden: z.number().int().positive().default(16),
  lr: z.number().positive().finite().default(0.003),
  batch_size: z.number().int().positive().default(256),
  l2: z.number().nonnegative().finite().default(1e-4),
  horizon_ms: z.number().int().nonnegative().default(LABEL_HORIZON_MS),
  holdout_fraction: z.number().gt(0).lt(1).default(0.2),
});
export type TrainingHyperparameters = z.infer<typeof trainingHyperparametersSchema>;

/** Probabilities are clipped to [eps, 1 - eps] before logarithms, so one confident miss costs a bounded loss. */
export const LOG_LOSS_EPSILON = 1e-7;

/** A model's scores on the time-ordered holdout. Accuracy counts prob_up > 0.5 as a predicted rise. */
export const holdoutMetricsSchema = z.strictObject({
  holdout_rows: z.number().int().positive(),
  base_rate: unitInterval,
  log_loss: z.number().finite().nonnegative(),
  /** Log loss of always predicting the holdout's base rate. */
  no_skill_log_loss: z.number().finite().nonnegative(),
  /** Rank-based (ties averaged); null when the holdout has only one class. */
  auc: unitInterval.nullable(),
  accuracy: unitInterval,
});
export type HoldoutMetrics = z.infer<typeof holdoutMetricsSchema>;

/** `metrics.json` next to a trained model.onnx: its holdout metrics and the split they come from. */
export const trainingMetricsSchema = holdoutMetricsSchema.extend({
  train_rows: z.number().int().positive(),
  embargoed_rows: count,
});
export type TrainingMetrics = z.infer<typeof trainingMetricsSchema>;
