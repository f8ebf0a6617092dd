/**
 * deploy/iam-policy.json, the EC2 role's policy: valid JSON naming exactly the actions the services call, on
 * resources that cover the keys and training jobs they use with the default prefixes.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { mlInferConfigSchema, mlRunnerConfigSchema } from "@gapfill/contracts";
import { trainingJobName } from "@gapfill/ml-runner";

interface Statement {
  Sid: string;
  Effect: string;
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

const text = readFileSync(new URL("./iam-policy.json", import.meta.url), "utf8");
const policy = JSON.parse(text) as { Version: string; Statement: Statement[] };
const list = (value: string | string[]) => (Array.isArray(value) ? value : [value]);
const PLACEHOLDERS = { LANDING_BUCKET: "landing-bucket", AWS_REGION: "us-east-1", ACCOUNT_ID: "123456789012", SAGEMAKER_ROLE_NAME: "gapfill-training" };
const filled = (pattern: string) => pattern.replace(/<([A-Z_]+)>/g, (_, name: keyof typeof PLACEHOLDERS) => PLACEHOLDERS[name]);
/** IAM's wildcard match: `*` any run of characters, `?` one. */
const matches = (pattern: string, value: string) =>
  new RegExp(`^${filled(pattern).replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`).test(value);
const allowed = (action: string, resource: string) =>
  policy.Statement.some((s) => s.Effect === "Allow" && list(s.Action).includes(action) && list(s.Resource).some((r) => matches(r, resource)));

const runner = mlRunnerConfigSchema.parse({ NATS_NAMESPACE: "" });
const infer = mlInferConfigSchema.parse({ NATS_NAMESPACE: "" });
const object = (key: string) => `arn:aws:s3:::${PLACEHOLDERS.LANDING_BUCKET}/${key}`;

describe("the EC2 role's IAM policy", () => {
  it("names exactly the S3, SageMaker and IAM actions the services call", () => {
    expect(policy.Version).toBe("2012-10-17");
    expect(policy.Statement.flatMap((s) => list(s.Action)).sort()).toEqual(
      [
        "iam:PassRole",
        "s3:AbortMultipartUpload",
        "s3:GetObject",
        "s3:ListBucket",
        "s3:PutObject",
        "sagemaker:AddTags",
        "sagemaker:CreateTrainingJob",
        "sagemaker:DescribeTrainingJob",
        "sagemaker:StopTrainingJob",
      ].sort(),
    );
    expect([...new Set(text.match(/<[A-Z_]+>/g))].sort()).toEqual(Object.keys(PLACEHOLDERS).map((name) => `<${name}>`).sort());
  });

  it("lets ml-runner and ml-infer read and write their keys under the default prefixes, and list only those", () => {
    const run = "retrain-20261201T130000Z";
    for (const key of [`${runner.TRAIN_PREFIX}/${run}/train.jsonl`, `${runner.MODEL_PREFIX}/${run}/model.onnx`, runner.MODEL_JSON, `${runner.MODEL_PREFIX}/jobs/x/output/model.tar.gz`]) {
      expect(allowed("s3:PutObject", object(key)), key).toBe(true);
      expect(allowed("s3:GetObject", object(key)), key).toBe(true);
    }
    expect(allowed("s3:GetObject", object(infer.MODEL_JSON))).toBe(true);
    expect(allowed("s3:GetObject", object("other/secret.txt"))).toBe(false);
    const listing = policy.Statement.find((s) => list(s.Action).includes("s3:ListBucket"))!;
    expect(listing.Resource).toBe("arn:aws:s3:::<LANDING_BUCKET>");
    expect(listing.Condition).toEqual({ StringLike: { "s3:prefix": [`${runner.TRAIN_PREFIX}/*`, `${runner.MODEL_PREFIX}/*`] } });
  });

  it("lets ml-runner create, follow, stop and tag its own training jobs, and pass only the SageMaker role to SageMaker", () => {
    const job = trainingJobName({ namespace: "prod", bucket: PLACEHOLDERS.LANDING_BUCKET, trainPrefix: "train", runId: "retrain-20261201T130000Z" });
    const arn = `arn:aws:sagemaker:${PLACEHOLDERS.AWS_REGION}:${PLACEHOLDERS.ACCOUNT_ID}:training-job/${job}`;
    for (const action of ["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob", "sagemaker:AddTags"]) {
      expect(allowed(action, arn), action).toBe(true);
      expect(allowed(action, arn.replace(job, "someone-elses-job")), action).toBe(false);
    }
    const pass = policy.Statement.find((s) => list(s.Action).includes("iam:PassRole"))!;
    expect(list(pass.Resource)).toEqual(["arn:aws:iam::<ACCOUNT_ID>:role/<SAGEMAKER_ROLE_NAME>"]);
    expect(pass.Condition).toEqual({ StringEquals: { "iam:PassedToService": "sagemaker.amazonaws.com" } });
  });
});
