import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { uniqueNamespace } from "./namespace.ts";
import { tcpAnswers, waitFor } from "@gapfill/kit";
import { freePort } from "./ports.ts";

const S3RVER_BIN = createRequire(import.meta.url).resolve("s3rver/bin/s3rver.js");

export interface S3TestServer {
  /** `http://127.0.0.1:<port>`, for S3_ENDPOINT. */
  endpoint: string;
  /** A bucket made for this server, empty at the start. */
  bucket: string;
  region: string;
  /** s3rver's fixed key pair: it refuses requests signed with any other. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Stops the server and deletes its files. */
  close(): Promise<void>;
}

/**
 * An S3-compatible server of the test's own: s3rver in a child process on a free port, keeping its objects in a
 * temp directory, with one unique bucket and its request log silenced.
 */
export async function startS3TestServer(): Promise<S3TestServer> {
  const port = await freePort();
  const directory = await mkdtemp(join(tmpdir(), "gapfill-s3-"));
  const bucket = `gapfill-${uniqueNamespace()}`;
  const args = ["--directory", directory, "--address", "127.0.0.1", "--port", String(port), "--silent", "--no-vhost-buckets"];
  // s3rver encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 keeps in its legacy provider.
  const node = [process.execPath, "--openssl-legacy-provider", S3RVER_BIN] as const;
  const child = spawn(node[0], [...node.slice(1), ...args, "--configure-bucket", bucket], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await exited;
    }
    await rm(directory, { recursive: true, force: true });
  };
  try {
    // The bucket is made before the server listens, so a connection means it is ready.
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`s3rver exited with status ${child.exitCode}: ${stderr.trim()}`);
        return tcpAnswers("127.0.0.1", port);
      },
      { what: `s3rver on port ${port}`, timeoutMs: 20_000 },
    );
  } catch (error) {
    await close();
    throw error;
  }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    region: "us-east-1",
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
    close,
  };
}
