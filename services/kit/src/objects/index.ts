import { join } from "node:path";
import { AWS_CREDENTIAL_VARIABLES, type ObjectStoreConfig } from "@gapfill/contracts";
import { resolveDataDir } from "../data-dir.ts";
import type { Logger } from "../log.ts";
import { redactUrlCredentials } from "../redact.ts";
import { localObjectDir, openLocalObjectStore } from "./local.ts";
import { describeS3Store, openS3ObjectStore } from "./s3.ts";
import type { ObjectStore, ObjectStoreKind } from "./types.ts";

export type { ObjectBody, ObjectInfo, ObjectStore, ObjectStoreKind } from "./types.ts";
export { ObjectKeyError, ObjectNotFoundError, ObjectStoreError } from "./errors.ts";
export { checkObjectKey, checkObjectPrefix } from "./keys.ts";
export { localObjectDir, openLocalObjectStore, type LocalObjectStoreOptions } from "./local.ts";
export { openS3ObjectStore, type S3ObjectStoreOptions } from "./s3.ts";

/**
 * Which adapter a configuration selects, and why (for the start-up log). `auto` takes S3 when S3_ENDPOINT or a
 * credential source of the AWS SDK is in the environment. An EC2 instance role is not visible there, so a host
 * relying on one (production) sets OBJECT_STORE=s3.
 */
export function objectStoreSelection(config: ObjectStoreConfig): { kind: ObjectStoreKind; reason: string } {
  if (config.OBJECT_STORE !== "auto") return { kind: config.OBJECT_STORE, reason: `OBJECT_STORE=${config.OBJECT_STORE}` };
  if (config.S3_ENDPOINT) return { kind: "s3", reason: "OBJECT_STORE=auto and S3_ENDPOINT is set" };
  const credential = AWS_CREDENTIAL_VARIABLES.find((variable) => config[variable]);
  if (credential) return { kind: "s3", reason: `OBJECT_STORE=auto and ${credential} is set` };
  return { kind: "local", reason: "OBJECT_STORE=auto and neither S3_ENDPOINT nor AWS credentials are set" };
}

/** OBJECT_STORE_DIR, or `objects` under DATA_DIR; a relative path is taken from the repository root. */
export function objectStoreDir(config: Pick<ObjectStoreConfig, "OBJECT_STORE_DIR" | "DATA_DIR">): string {
  return resolveDataDir(config.OBJECT_STORE_DIR ?? join(config.DATA_DIR, "objects"));
}

/** Opens the object store the configuration selects and logs which one and where, never a credential. */
export async function openObjectStore(config: ObjectStoreConfig, options: { log: Logger }): Promise<ObjectStore> {
  const { kind, reason } = objectStoreSelection(config);
  if (kind === "s3") {
    const s3 = { bucket: config.LANDING_BUCKET, region: config.AWS_REGION, endpoint: config.S3_ENDPOINT };
    const endpoint = s3.endpoint ? redactUrlCredentials(s3.endpoint) : "(AWS)";
    options.log.info({ objectStore: kind, bucket: s3.bucket, region: s3.region, endpoint, reason }, `object store: ${describeS3Store(s3)}`);
    return openS3ObjectStore(s3);
  }
  const local = { dir: objectStoreDir(config), namespace: config.NATS_NAMESPACE };
  const dir = localObjectDir(local.dir, local.namespace);
  options.log.info({ objectStore: kind, dir, reason }, `object store: local directory ${dir}`);
  return openLocalObjectStore(local);
}
