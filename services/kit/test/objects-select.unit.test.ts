import { describe, expect, it } from "vitest";
import { AWS_CREDENTIAL_VARIABLES, objectStoreConfigSchema } from "@gapfill/contracts";
import { loadConfig } from "../src/config.ts";
import { objectStoreDir, objectStoreSelection, REPO_ROOT } from "../src/index.ts";
import { join } from "node:path";

const configOf = (env: Record<string, string>) => loadConfig(objectStoreConfigSchema, "ml-runner", env);

describe("object store selection", () => {
  it("is the local directory under auto when the environment has neither S3_ENDPOINT nor AWS credentials", () => {
    expect(objectStoreSelection(configOf({}))).toEqual({
      kind: "local",
      reason: "OBJECT_STORE=auto and neither S3_ENDPOINT nor AWS credentials are set",
    });
    // The secret key alone is no credential source, and an empty value counts as unset.
    expect(objectStoreSelection(configOf({ AWS_SECRET_ACCESS_KEY: "x", AWS_PROFILE: "" })).kind).toBe("local");
  });

  it.each(AWS_CREDENTIAL_VARIABLES.map((variable) => [variable]))("is S3 under auto when %s is set", (variable) => {
    expect(objectStoreSelection(configOf({ [variable]: "value" }))).toEqual({ kind: "s3", reason: `OBJECT_STORE=auto and ${variable} is set` });
  });

  it("is S3 under auto when S3_ENDPOINT is set, and what OBJECT_STORE says when it is not auto", () => {
    expect(objectStoreSelection(configOf({ S3_ENDPOINT: "http://127.0.0.1:9000" }))).toEqual({ kind: "s3", reason: "OBJECT_STORE=auto and S3_ENDPOINT is set" });
    // Production on EC2: the instance role leaves nothing in the environment.
    expect(objectStoreSelection(configOf({ OBJECT_STORE: "s3" }))).toEqual({ kind: "s3", reason: "OBJECT_STORE=s3" });
    expect(objectStoreSelection(configOf({ OBJECT_STORE: "local", AWS_PROFILE: "dev", S3_ENDPOINT: "http://x:9000" }))).toEqual({
      kind: "local",
      reason: "OBJECT_STORE=local",
    });
  });

  it("puts the local directory at OBJECT_STORE_DIR, else objects under DATA_DIR, relative paths from the repository root", () => {
    expect(objectStoreDir(configOf({}))).toBe(join(REPO_ROOT, ".data", "objects"));
    expect(objectStoreDir(configOf({ DATA_DIR: "/var/lib/gapfill" }))).toBe("/var/lib/gapfill/objects");
    expect(objectStoreDir(configOf({ OBJECT_STORE_DIR: "exports", DATA_DIR: "/var/lib/gapfill" }))).toBe(join(REPO_ROOT, "exports"));
  });
});
