import type { Readable } from "node:stream";

export type ObjectStoreKind = "s3" | "local";

/** An object's content given whole: bytes, or text stored as UTF-8. */
export type ObjectBody = Uint8Array | string;

export interface ObjectInfo {
  key: string;
  /** Bytes. */
  size: number;
  lastModified: Date;
}

/**
 * Keys are `/`-separated paths (`train/<run_id>/train.jsonl`, `model/latest.json`), checked by checkObjectKey: a
 * bad key is refused with an ObjectKeyError before any I/O. A missing object is an ObjectNotFoundError; a backend
 * that cannot be reached or refuses is an ObjectStoreError naming it and the cause.
 */
export interface ObjectStore {
  readonly kind: ObjectStoreKind;
  /** `s3://<bucket>` or the local directory: where the objects are, for logs and messages. */
  readonly location: string;
  /** Stores the object whole, replacing any previous one; readers see the old or the new content, never a mix. */
  put(key: string, body: ObjectBody): Promise<void>;
  /**
   * Stores what `source` yields (a Readable, a generator) without holding it all in memory, replacing any previous
   * object only once the source has ended; if the source throws, nothing is stored. Resolves to the bytes stored.
   */
  putStream(key: string, source: AsyncIterable<ObjectBody> | Iterable<ObjectBody>): Promise<{ size: number }>;
  get(key: string): Promise<Buffer>;
  /** The content as a stream, opened before it resolves (a missing object rejects); read it to the end or destroy it. */
  getStream(key: string): Promise<Readable>;
  head(key: string): Promise<ObjectInfo>;
  /**
   * Every object whose key starts with `prefix` (a plain string prefix: `train/ru` matches `train/run1/a`), in
   * byte order of the keys, however many pages the backend answers in.
   */
  list(prefix?: string): Promise<ObjectInfo[]>;
  /** Removes the object; a missing one is not an error (as on S3), so deleting twice is harmless. */
  delete(key: string): Promise<void>;
  close(): Promise<void>;
}
