import { Readable } from "node:stream";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  paginateListObjectsV2,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { redactUrlCredentials } from "../redact.ts";
import { ObjectNotFoundError, ObjectStoreError } from "./errors.ts";
import { checkObjectKey, checkObjectPrefix } from "./keys.ts";
import { bytesOf, ObjectSource } from "./source.ts";
import type { ObjectBody, ObjectInfo, ObjectStore } from "./types.ts";

export interface S3ObjectStoreOptions {
  bucket: string;
  region: string;
  /** `S3_ENDPOINT`: an S3-compatible server instead of AWS. */
  endpoint?: string;
  /** Unset: the SDK's default chain (environment, profile, web identity, container, EC2 instance role). */
  credentials?: S3ClientConfig["credentials"];
}

/** Where a store is, for logs and messages: never a credential. */
export function describeS3Store({ bucket, region, endpoint }: S3ObjectStoreOptions): string {
  return endpoint ? `S3 bucket ${bucket} at ${redactUrlCredentials(endpoint)}` : `S3 bucket ${bucket} in ${region}`;
}

const statusOf = (error: unknown) => (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;

/**
 * Objects in one S3 bucket through the AWS SDK v3. Streamed uploads go up in 5 MiB multipart parts (lib-storage
 * `Upload`, at most 4 parts in memory), so an export of unknown length is never held whole.
 */
export function openS3ObjectStore(options: S3ObjectStoreOptions): ObjectStore {
  const client = new S3Client({
    region: options.region,
    credentials: options.credentials,
    // A bucket in another region than AWS_REGION still works (one extra round trip) instead of failing.
    followRegionRedirects: true,
    ...(options.endpoint && {
      endpoint: options.endpoint,
      // S3-compatible servers take the bucket in the path. The SDK's default checksums send a streamed body
      // aws-chunked with a checksum trailer, which some of them (s3rver) store inside the object as it came.
      forcePathStyle: true,
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    }),
  });
  return new S3ObjectStore(client, options.bucket, describeS3Store(options));
}

class S3ObjectStore implements ObjectStore {
  readonly kind = "s3" as const;
  readonly location: string;

  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly describe: string;

  constructor(
    client: S3Client,
    bucket: string,
    describe: string,
  ) {
    this.client = client;
    this.bucket = bucket;
    this.describe = describe;
    this.location = `s3://${bucket}`;
  }

  async put(key: string, body: ObjectBody): Promise<void> {
    const command = new PutObjectCommand({ Bucket: this.bucket, Key: checkObjectKey(key), Body: bytesOf(body) });
    await this.call("put", key, () => this.client.send(command));
  }

  async putStream(key: string, source: AsyncIterable<ObjectBody> | Iterable<ObjectBody>): Promise<{ size: number }> {
    checkObjectKey(key);
    const counted = new ObjectSource(source);
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: Readable.from(counted.chunks()) },
    });
    try {
      // A failed multipart upload is aborted, so no parts are left behind and the previous object stays.
      await upload.done();
    } catch (error) {
      if (counted.failure) throw counted.failure.error;
      throw this.failure("putStream", key, error);
    }
    return { size: counted.size };
  }

  async get(key: string): Promise<Buffer> {
    const command = new GetObjectCommand({ Bucket: this.bucket, Key: checkObjectKey(key) });
    return this.call("get", key, async () => {
      const bytes = await (await this.client.send(command)).Body!.transformToByteArray();
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    });
  }

  async getStream(key: string): Promise<Readable> {
    const command = new GetObjectCommand({ Bucket: this.bucket, Key: checkObjectKey(key) });
    const response = await this.call("getStream", key, () => this.client.send(command));
    // In Node the SDK's body is the HTTP response itself, a Readable.
    return response.Body as Readable;
  }

  async head(key: string): Promise<ObjectInfo> {
    const command = new HeadObjectCommand({ Bucket: this.bucket, Key: checkObjectKey(key) });
    try {
      const response = await this.client.send(command);
      return { key, size: response.ContentLength ?? 0, lastModified: response.LastModified ?? new Date(0) };
    } catch (error) {
      if (statusOf(error) !== 404) throw this.failure("head", key, error);
    }
    // A HEAD response has no body to say what is missing, the object or the bucket: ask about the bucket.
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      const cause = statusOf(error) === 404 ? Object.assign(new Error("The specified bucket does not exist"), { name: "NoSuchBucket" }) : error;
      throw new ObjectStoreError("s3", this.describe, "head", key, cause);
    }
    throw new ObjectNotFoundError(key, this.describe);
  }

  async list(prefix = ""): Promise<ObjectInfo[]> {
    checkObjectPrefix(prefix);
    return this.call("list", prefix || undefined, async () => {
      const found: ObjectInfo[] = [];
      // Pages of at most 1,000 keys, in key order, each continuing where the last ended.
      for await (const page of paginateListObjectsV2({ client: this.client }, { Bucket: this.bucket, Prefix: prefix })) {
        for (const object of page.Contents ?? []) {
          // A key ending in '/' is a folder marker (the S3 console's "create folder"), not an object.
          if (!object.Key || object.Key.endsWith("/")) continue;
          found.push({ key: object.Key, size: object.Size ?? 0, lastModified: object.LastModified ?? new Date(0) });
        }
      }
      return found;
    });
  }

  async delete(key: string): Promise<void> {
    const command = new DeleteObjectCommand({ Bucket: this.bucket, Key: checkObjectKey(key) });
    await this.call("delete", key, () => this.client.send(command));
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private async call<T>(operation: string, key: string | undefined, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw this.failure(operation, key, error);
    }
  }

  private failure(operation: string, key: string | undefined, error: unknown): Error {
    if (key !== undefined && (error as Error | undefined)?.name === "NoSuchKey") return new ObjectNotFoundError(key, this.describe);
    return new ObjectStoreError("s3", this.describe, operation, key, error);
  }
}
