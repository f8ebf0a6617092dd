import { createHash } from "node:crypto";

/** SageMaker's pattern for a training job name (at most 63 characters). */
export const TRAINING_JOB_NAME_PATTERN = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;

export interface JobNameParts {
  namespace: string;
  bucket: string;
  trainPrefix: string;
  runId: string;
}

/**
 * The training job of a run: `gapfill-<namespace>-<deployment hash>-<run id>`, the same on every runner and after a
 * restart, so a runner finds a job it started before instead of starting another. Job names are unique per account
 * and region: the hash of bucket, prefix and namespace keeps two deployments sharing an account apart even when their
 * namespaces look alike once shortened to the allowed characters.
 */
export function trainingJobName({ namespace, bucket, trainPrefix, runId }: JobNameParts): string {
  const hash = createHash("sha256").update(`${bucket}\n${trainPrefix}\n${namespace}`).digest("hex").slice(0, 8);
  const slug = namespace.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 16).replace(/-+$/, "");
  const run = runId.replace(/[^A-Za-z0-9]+/g, "-");
  const name = ["gapfill", slug, hash, run].filter((part) => part.length > 0).join("-");
  if (!TRAINING_JOB_NAME_PATTERN.test(name)) {
    throw new RangeError(`training job name ${JSON.stringify(name)} (run ${runId}) does not match ${TRAINING_JOB_NAME_PATTERN}`);
  }
  return name;
}
