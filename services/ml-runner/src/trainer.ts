import type { TrainerKind, TrainingHyperparameters, TrainingMetrics } from "@gapfill/contracts";
import type { Logger } from "@gapfill/kit";
import type { LabelledRows } from "./model/index.ts";

export interface TrainingRequest {
  runId: string;
  /** Object-store prefix of the run; its training set is `<runPrefix>/train.jsonl` and `manifest.json`. */
  runPrefix: string;
  /** The same training set, read back and checked against its manifest, oldest first. */
  rows: LabelledRows;
  hp: TrainingHyperparameters;
  log: Logger;
  /** Aborted when the runner stops: the trainer gives up waiting (a SageMaker job runs on, to be found again). */
  signal: AbortSignal;
  /** Called with an external job's name before waiting for it, so the run record names the job. */
  onJob?(jobName: string): Promise<void>;
}

/** A trained model that has not been gated yet. */
export interface Candidate {
  /** ONNX bytes, meant to satisfy the scoring contract (the gate checks). */
  onnx: Uint8Array;
  /** The trainer's own holdout scores (its metrics.json). */
  metrics: TrainingMetrics;
  jobName: string | null;
  instanceType: string | null;
}

export interface Trainer {
  readonly kind: TrainerKind;
  train(request: TrainingRequest): Promise<Candidate>;
}

/** The trainer's job ended without a model (SageMaker Failed or Stopped): retrying the tick cannot change that. */
export class TrainingJobFailedError extends Error {
  override name = "TrainingJobFailedError";
  readonly jobName: string;
  readonly status: string;
  readonly failureReason: string;

  constructor(
    jobName: string,
    status: string,
    failureReason: string,
  ) {
    super(`training job ${jobName} ${status}: ${failureReason}`);
    this.jobName = jobName;
    this.status = status;
    this.failureReason = failureReason;
  }
}
