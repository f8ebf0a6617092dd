import { setTimeout as sleep } from "node:timers/promises";
import type { StoreConfig } from "@gapfill/contracts";
import { backoffDelayMs, openStore, StoreConfigError, type BackoffPolicy, type BarStore, type Logger } from "@gapfill/kit";

/**
 * Opens the store for writing, retrying with backoff while the database cannot be reached, so a recorder started
 * before its database waits for it instead of crash-looping. A configuration that cannot work is not retried;
 * aborting `signal` ends the wait.
 */
export async function openStoreWhenReachable(
  config: StoreConfig,
  log: Logger,
  retry: BackoffPolicy,
  signal?: AbortSignal,
): Promise<BarStore> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await openStore(config, { log, access: "write", applicationName: "gapfill-recorder" });
    } catch (error) {
      if (error instanceof StoreConfigError) throw error;
      const delayMs = backoffDelayMs(attempt, retry);
      log.warn({ err: error, attempt: attempt + 1, delayMs }, "bar store not reachable; retrying");
      await sleep(delayMs, undefined, signal ? { signal } : undefined);
    }
  }
}
