import { setTimeout as sleep } from "node:timers/promises";
import type { StoreConfig } from "@gapfill/contracts";
import { backoffDelayMs, type BackoffPolicy } from "../backoff.ts";
import { OutageLog } from "../failure.ts";
import { StoreConfigError } from "./errors.ts";
import { openStore, storeKindOf, type OpenStoreOptions } from "./index.ts";
import type { Store } from "./types.ts";

export interface OpenStoreWhenReachableOptions extends OpenStoreOptions {
  retry: BackoffPolicy;
  /** Aborting it ends the wait. */
  signal?: AbortSignal;
}

/**
 * Opens the store, retrying with backoff while the database cannot be reached, so a service started before its
 * database waits for it instead of crash-looping. A configuration that cannot work is not retried.
 */
export async function openStoreWhenReachable(config: StoreConfig, options: OpenStoreWhenReachableOptions): Promise<Store> {
  const { retry, signal, ...open } = options;
  const outage = new OutageLog(open.log, { what: "opening the store", target: storeKindOf(config) });
  for (let attempt = 0; ; attempt++) {
    try {
      const store = await openStore(config, open);
      outage.succeeded();
      return store;
    } catch (error) {
      if (error instanceof StoreConfigError) throw error;
      const delayMs = backoffDelayMs(attempt, retry);
      outage.failed(error, { attempt: attempt + 1, delayMs });
      await sleep(delayMs, undefined, signal ? { signal } : undefined);
    }
  }
}
