import { ConfigurationError } from "../config.ts";

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
