import { EMBEDDING_DIM, FEATURE_VERSION, trainingHyperparametersSchema, type MlRunnerConfig } from "@gapfill/contracts";
import type { RunSettings } from "./run.ts";

/** The run settings a configuration gives: the built-in embedding, the window, the gate, the hyperparameters. */
export function runSettingsOf(config: MlRunnerConfig): RunSettings {
  return {
    trainPrefix: config.TRAIN_PREFIX,
    modelPrefix: config.MODEL_PREFIX,
    modelJsonKey: config.MODEL_JSON,
    windowMs: Math.round(config.TRAIN_WINDOW_HOURS * 3_600_000),
    minRows: config.ML_MIN_ROWS,
    tolerance: config.ML_GATE_TOLERANCE,
    featureVersion: FEATURE_VERSION,
    dimension: EMBEDDING_DIM,
    hp: trainingHyperparametersSchema.parse({
      seed: config.ML_SEED,
      epochs: config.ML_EPOCHS,
      hidden: config.ML_HIDDEN,
      lr: config.ML_LEARNING_RATE,
      batch_size: config.ML_BATCH_SIZE,
      l2: config.ML_L2,
      horizon_ms: config.ML_HORIZON_SECONDS * 1000,
      holdout_fraction: config.ML_HOLDOUT_FRACTION,
    }),
  };
}
