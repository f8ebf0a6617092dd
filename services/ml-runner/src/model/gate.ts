import { probabilityViolation, type HoldoutMetrics } from "@gapfill/contracts";
import { holdoutMetrics } from "./metrics.ts";

export interface GateInput {
  /** Holdout labels, 0 or 1. */
  labels: ArrayLike<number>;
  /** The candidate's prob_up on the holdout rows. */
  candidate: ArrayLike<number>;
  /** The current model's prob_up on the same rows; null when no model is published yet. */
  current: ArrayLike<number> | null;
  /** How much worse (in holdout log loss) the candidate may be and still replace the current model. */
  tolerance: number;
}

export interface PromotionDecision {
  promote: boolean;
  /** Null when the candidate's outputs break the contract. */
  candidate: HoldoutMetrics | null;
  /** Null when there is no current model or its outputs break the contract. */
  current: HoldoutMetrics | null;
  reason: string;
}

const fmt = (logLoss: number) => logLoss.toFixed(5);

/**
 * Promote iff the candidate's holdout outputs satisfy the contract and either no usable current model exists or
 * the candidate's log loss <= the current's + tolerance.
 */
export function promotionDecision(input: GateInput): PromotionDecision {
  const candidateViolation = probabilityViolation(input.candidate);
  const currentViolation = input.current && probabilityViolation(input.current);
  const current = input.current && !currentViolation ? holdoutMetrics(input.current, input.labels) : null;
  if (candidateViolation) {
    return { promote: false, candidate: null, current, reason: `candidate breaks the output contract: ${candidateViolation}` };
  }
  const candidate = holdoutMetrics(input.candidate, input.labels);
  if (!input.current) {
    return { promote: true, candidate, current, reason: `no current model; candidate log loss ${fmt(candidate.log_loss)}` };
  }
  if (!current) {
    return { promote: true, candidate, current, reason: `current model breaks the output contract: ${currentViolation}` };
  }
  const limit = current.log_loss + input.tolerance;
  const comparison = `candidate log loss ${fmt(candidate.log_loss)} vs current ${fmt(current.log_loss)} + tolerance ${input.tolerance}`;
  return candidate.log_loss <= limit
    ? { promote: true, candidate, current, reason: `${comparison}: within` }
    : { promote: false, candidate, current, reason: `${comparison}: worse` };
}
