import { ConfigurationError } from "../config.ts";
import type { StoreKind } from "./types.ts";

/**
 * Input the store refuses before any I/O (an odd symbol, a limit out of range, a bar key that cannot be a bar).
 * The gateway answers it with a 400; nothing was read or written.
 */
export class StoreInputError extends Error {
  override name = "StoreInputError";
}

/** The configuration cannot work for the requested access (say a read-only Supabase key for the recorder). */
export class StoreConfigError extends ConfigurationError {
  override name = "StoreConfigError";
}

/**
 * The backend did not serve a store call: unreachable, refusing, timing out, or answering something that is not
 * what the store asked for (a proxy's 404 page, rows of the wrong shape). Retrying later may help; the gateway
 * answers it with 503 `store_unavailable` and a Retry-After. The message names the backend, the call and what
 * arrived, e.g. `supabase store, page: answered HTTP 404 Not Found with an empty body`.
 */
export class StoreUnavailableError extends Error {
  override name = "StoreUnavailableError";
  readonly backend: StoreKind;
  readonly operation: string;
  readonly answered: string;

  constructor(
    backend: StoreKind,
    operation: string,
    /** What the backend answered, or why there was no answer. */
    answered: string,
    options?: ErrorOptions,
  ) {
    super(`${backend} store, ${operation}: ${answered}`, options);
    this.backend = backend;
    this.operation = operation;
    this.answered = answered;
  }
}
