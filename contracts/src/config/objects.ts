import { z } from "zod";
import { natsEnv } from "./common.ts";
import { envUrl } from "./env.ts";
import { storeEnv } from "./store.ts";

/**
 * Variables through which the AWS SDK's default credential chain finds credentials. Under OBJECT_STORE=auto their
 * presence selects S3. An EC2 instance role (or any other IMDS credential) leaves nothing in the environment, so a
 * host that relies on one sets OBJECT_STORE=s3.
 */
export const AWS_CREDENTIAL_VARIABLES = [
  "AWS_ACCESS_KEY_ID",
  "AWS_PROFILE",
  "AWS_WEB_IDENTITY_TOKEN_FILE",
  "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
  "AWS_CONTAINER_CREDENTIALS_FULL_URI",
] as const;

// Read only to tell whether they are set; the SDK reads them itself, and no secret (a secret key, a token) is here.
const optionalText = () => z.string().trim().min(1).optional();
const awsCredentialEnv = {
  /** AWS access key id; with OBJECT_STORE=auto its presence selects S3 (the SDK reads the secret key itself). */
  AWS_ACCESS_KEY_ID: optionalText(),
  /** AWS shared-config profile; with OBJECT_STORE=auto its presence selects S3. */
  AWS_PROFILE: optionalText(),
  /** Web identity token file (EKS, IRSA); with OBJECT_STORE=auto its presence selects S3. */
  AWS_WEB_IDENTITY_TOKEN_FILE: optionalText(),
  /** Container credentials (ECS task role); with OBJECT_STORE=auto its presence selects S3. */
  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: optionalText(),
  /** Container credentials (full URI); with OBJECT_STORE=auto its presence selects S3. */
  AWS_CONTAINER_CREDENTIALS_FULL_URI: optionalText(),
} satisfies Record<(typeof AWS_CREDENTIAL_VARIABLES)[number], z.ZodOptional<z.ZodString>>;

/**
 * Where the ML jobs keep training exports and models: an S3 bucket, or a local directory with the same key layout.
 * `auto` picks S3 when S3_ENDPOINT or AWS credentials are configured in the environment, else the local directory.
 */
export const objectStoreEnv = {
  /**
   * Where training exports and models live: `s3`, `local` (a directory with the same key layout), or `auto` (S3 when
   * S3_ENDPOINT or AWS credentials are in the environment). An EC2 instance role is invisible in the environment:
   * production sets `s3`.
   */
  OBJECT_STORE: z.enum(["auto", "s3", "local"], { error: "expected auto, s3 or local" }).default("auto"),
  /** The S3 bucket of training exports and models. */
  LANDING_BUCKET: z
    .string()
    .trim()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "expected an S3 bucket name (3 to 63 lower-case letters, digits, '.' or '-')")
    .default("ybigta-mlops-landing-zone-324037321745"),
  /** The bucket's region; a request sent to the wrong one is redirected by the SDK, at the cost of a round trip. */
  AWS_REGION: z
    .string()
    .trim()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, "expected an AWS region like us-east-1")
    .default("us-east-1"),
  /** An S3-compatible server (MinIO, s3rver) instead of AWS; path-style addressing is used with it. */
  S3_ENDPOINT: envUrl(["http", "https"]).optional(),
  /** Local directory of objects; unset: `objects` under DATA_DIR. A relative path is taken from the repository root. */
  OBJECT_STORE_DIR: z.string().trim().min(1).optional(),
  DATA_DIR: storeEnv.DATA_DIR,
  // The local directory keeps one folder per namespace, as the embedded store keeps one file per namespace.
  NATS_NAMESPACE: natsEnv.NATS_NAMESPACE,
  ...awsCredentialEnv,
};

export const objectStoreConfigSchema = z.object(objectStoreEnv);
export type ObjectStoreConfig = z.infer<typeof objectStoreConfigSchema>;

/** The published model's pointer: written by ml-runner (and `npm run model -- promote`), read by ml-infer. */
export const modelPointerEnv = {
  /** Object key of the pointer to the published model (`latest.json`), written after the files it names. */
  MODEL_JSON: z.string().trim().min(1).default("model/latest.json"),
};
