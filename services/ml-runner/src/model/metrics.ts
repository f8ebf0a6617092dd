import { LOG_LOSS_EPSILON, type HoldoutMetrics } from "@gapfill/contracts";

function clip(p: number): number {
  return Math.min(Math.max(p, LOG_LOSS_EPSILON), 1 - LOG_LOSS_EPSILON);
}

/** Mean binary cross-entropy of probabilities clipped to [eps, 1 - eps]. */
export function logLoss(probabilities: ArrayLike<number>, labels: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = clip(probabilities[i]!);
    sum -= labels[i] === 1 ? Math.log(p) : Math.log(1 - p);
  }
  return sum / labels.length;
}

/**
 * Area under the ROC curve as the Mann-Whitney statistic: the chance that a random positive outranks a random
 * negative, tied scores counting one half (average ranks). Null when either class is absent.
 */
export function rocAuc(probabilities: ArrayLike<number>, labels: ArrayLike<number>): number | null {
  const count = labels.length;
  const order = Array.from({ length: count }, (_, i) => i).sort((a, b) => probabilities[a]! - probabilities[b]!);
  let positives = 0;
  let positiveRankSum = 0;
  for (let start = 0; start < count; ) {
    let end = start + 1;
    while (end < count && probabilities[order[end]!] === probabilities[order[start]!]) end++;
    const averageRank = (start + 1 + end) / 2;
    for (let i = start; i < end; i++) {
      if (labels[order[i]!] === 1) {
        positives++;
        positiveRankSum += averageRank;
      }
    }
    start = end;
  }
  const negatives = count - positives;
  if (positives === 0 || negatives === 0) return null;
  return (positiveRankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** A model's holdout scores; `probabilities` must already satisfy the output contract (finite, in [0, 1]). */
export function holdoutMetrics(probabilities: ArrayLike<number>, labels: ArrayLike<number>): HoldoutMetrics {
  const rows = labels.length;
  if (rows === 0 || probabilities.length !== rows) {
    throw new RangeError(`holdout metrics need one probability per label and at least one row: ${probabilities.length} probabilities, ${rows} labels`);
  }
  let positives = 0;
  let correct = 0;
  for (let i = 0; i < rows; i++) {
    const up = labels[i] === 1;
    if (up) positives++;
    if (probabilities[i]! > 0.5 === up) correct++;
  }
  const baseRate = positives / rows;
  const noSkill = clip(baseRate);
  return {
    holdout_rows: rows,
    base_rate: baseRate,
    log_loss: logLoss(probabilities, labels),
    no_skill_log_loss: -(baseRate * Math.log(noSkill) + (1 - baseRate) * Math.log(1 - noSkill)),
    auc: rocAuc(probabilities, labels),
    accuracy: correct / rows,
  };
}
