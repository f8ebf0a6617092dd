import { describeFailure } from "../failure.ts";
import type { ObjectStoreKind } from "./types.ts";

/** A key (or list prefix) the stores refuse before any I/O; see checkObjectKey. */
export class ObjectKeyError extends Error {
  override name = "ObjectKeyError";
  readonly key: string;

  constructor(
    key: string,
    reason: string,
  ) {
    super(`bad object key ${JSON.stringify(key)}: ${reason}`);
    this.key = key;
  }
}

/** No object under the key (get, getStream, head). */
export class ObjectNotFoundError extends Error {
  override name = "ObjectNotFoundError";
  readonly key: string;

  constructor(
    key: string,
    /** The store, as in its error messages: `S3 bucket <bucket> at <endpoint>` or `local directory <dir>`. */
    store: string,
  ) {
    super(`no object ${key} in ${store}`);
    this.key = key;
  }
}

/**
 * The backend failed: unreachable, refusing (NoSuchBucket, AccessDenied, EACCES), or out of space. The message is
 * one line for a log: the store, the operation and key, and the underlying cause, e.g.
 * `S3 bucket landing at http://127.0.0.1:9000: get model/latest.json failed: connect ECONNREFUSED 127.0.0.1:9000`.
 */
export class ObjectStoreError extends Error {
  override name = "ObjectStoreError";
  readonly backend: ObjectStoreKind;
  readonly operation: string;
  readonly key: string | undefined;

  constructor(
    backend: ObjectStoreKind,
    store: string,
    operation: string,
    key: string | undefined,
    cause: unknown,
    hint = "",
  ) {
    super(`${store}: ${operation}${key === undefined ? "" : ` ${key}`} failed: ${describeFailure(cause)}${hint}`, { cause });
    this.backend = backend;
    this.operation = operation;
    this.key = key;
  }
}
