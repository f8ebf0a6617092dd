export interface RetryPolicy {
  /** Delay ceiling of the first retry. */
  initialMs: number;
  /** Largest delay ceiling. */
  maxMs: number;
}

/**
 * Capped exponential backoff with "equal jitter": the ceiling doubles per attempt up to maxMs, and the delay is
 * drawn from its upper half, so retries from several recorders spread out but never hammer at zero delay.
 */
export function retryDelayMs(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt, 30));
  return ceiling / 2 + (random() * ceiling) / 2;
}
