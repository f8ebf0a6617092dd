export interface BackoffPolicy {
  /** Delay ceiling of the first retry (attempt 0). */
  initialMs: number;
  /** Largest delay ceiling. */
  maxMs: number;
}

/**
 * Capped exponential backoff with "equal jitter": the ceiling doubles per attempt up to maxMs, and the delay is
 * drawn from its upper half, so waits surely grow while clients that failed together spread out, and none
 * retries at zero delay.
 */
export function backoffDelayMs(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
