import type { TrainingHyperparameters, TrainingMetrics } from "@gapfill/contracts";
import { holdoutMetrics } from "./metrics.ts";
import { predict, type Mlp } from "./mlp.ts";
import { rowRange, type LabelledRows } from "./rows.ts";
import { timeOrderedSplit, type TimeSplit } from "./split.ts";
import { trainMlp } from "./train.ts";

export interface FitResult {
  model: Mlp;
  split: TimeSplit;
  /** What train.py writes to metrics.json, for the same rows and hyperparameters. */
  metrics: TrainingMetrics;
  holdout: LabelledRows;
  /** The model's prob_up on the holdout rows (in-process forward pass). */
  holdoutProbabilities: Float32Array;
  epochLogLoss: number[];
}

/** The in-process training run: time-ordered split with embargo, fit on the training rows, score the holdout. */
export function trainAndEvaluate(rows: LabelledRows, hp: TrainingHyperparameters): FitResult {
  const split = timeOrderedSplit(rows.ts, { holdoutFraction: hp.holdout_fraction, horizonMs: hp.horizon_ms });
  const { model, epochLogLoss } = trainMlp(rowRange(rows, 0, split.trainRows), hp);
  const holdout = rowRange(rows, split.holdoutStart, rows.count);
  const holdoutProbabilities = predict(model, holdout.embeddings);
  const metrics = {
    ...holdoutMetrics(holdoutProbabilities, holdout.labels),
    train_rows: split.trainRows,
    embargoed_rows: split.embargoedRows,
  };
  return { model, split, metrics, holdout, holdoutProbabilities, epochLogLoss };
}
