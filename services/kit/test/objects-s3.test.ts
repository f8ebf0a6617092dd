import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { objectStoreConfigSchema } from "@gapfill/contracts";
import { ObjectNotFoundError, ObjectStoreError, openObjectStore, openS3ObjectStore, type ObjectStore } from "../src/objects/index.ts";
import { capturingLogger, freePort, seededByteChunks, startS3TestServer, type S3TestServer } from "@gapfill/testkit";
import { describeObjectStoreContract } from "./objects.contract.ts";

describeObjectStoreContract("S3 (s3rver)", async () => {
  const server = await startS3TestServer();
  const store = openS3ObjectStore({ bucket: server.bucket, region: server.region, endpoint: server.endpoint, credentials: server.credentials });
  return {
    store,
    teardown: async () => {
      await store.close();
      await server.close();
    },
  };
});

/** The error `run` rejects with, which must be an ObjectStoreError. */
async function storeErrorOf(run: () => Promise<unknown>): Promise<ObjectStoreError> {
  const error = await run().then(
    () => expect.unreachable("the call should fail"),
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ObjectStoreError);
  return error as ObjectStoreError;
}

describe("S3 object store", () => {
  let server: S3TestServer;
  const stores: ObjectStore[] = [];
  const open = (options: { bucket?: string; endpoint?: string } = {}) => {
    const store = openS3ObjectStore({
      bucket: options.bucket ?? server.bucket,
      region: server.region,
      endpoint: options.endpoint ?? server.endpoint,
      credentials: server.credentials,
    });
    stores.push(store);
    return store;
  };

  beforeAll(async () => {
    server = await startS3TestServer();
  });
  afterAll(async () => {
    for (const store of stores) await store.close();
    await server?.close();
  });

  it("names the host and the cause when the endpoint is unreachable, for every operation", async () => {
    const port = await freePort();
    const store = open({ endpoint: `http://127.0.0.1:${port}` });
    const calls: [string, () => Promise<unknown>][] = [
      ["get", () => store.get("model/latest.json")],
      ["getStream", () => store.getStream("model/latest.json")],
      ["head", () => store.head("model/latest.json")],
      ["put", () => store.put("model/latest.json", "{}")],
      ["putStream", () => store.putStream("model/latest.json", seededByteChunks(1, 1000))],
      ["list", () => store.list("model/")],
      ["delete", () => store.delete("model/latest.json")],
    ];
    for (const [operation, call] of calls) {
      const error = await storeErrorOf(call);
      expect(error.backend).toBe("s3");
      expect(error.operation).toBe(operation);
      expect(error.message).toBe(
        `S3 bucket ${server.bucket} at http://127.0.0.1:${port}: ${operation} model/${operation === "list" ? "" : "latest.json"} failed: ` +
          `connect ECONNREFUSED 127.0.0.1:${port}`,
      );
    }
  });

  it("names an endpoint host that does not resolve, and the cause", async () => {
    // RFC 6761: a .invalid name never resolves.
    const store = open({ endpoint: "http://s3.gapfill.invalid:9000" });
    const error = await storeErrorOf(() => store.get("model/latest.json"));
    expect(error.message).toBe(
      `S3 bucket ${server.bucket} at http://s3.gapfill.invalid:9000: get model/latest.json failed: getaddrinfo ENOTFOUND s3.gapfill.invalid`,
    );
  });

  it("names the bucket and NoSuchBucket when the bucket is missing, also for head (whose 404 has no body)", async () => {
    const store = open({ bucket: `${server.bucket}-missing` });
    for (const call of [() => store.get("a.json"), () => store.head("a.json"), () => store.put("a.json", "{}"), () => store.list()]) {
      const error = await storeErrorOf(call);
      expect(error.message).toMatch(new RegExp(`^S3 bucket ${server.bucket}-missing at ${server.endpoint}: .* failed: NoSuchBucket: `));
    }
    // In the bucket that exists, a missing object is just that.
    await expect(open().head("a.json")).rejects.toBeInstanceOf(ObjectNotFoundError);
  });

  it("is selected by S3_ENDPOINT under OBJECT_STORE=auto, takes credentials from the SDK's default chain and logs where", async () => {
    vi.stubEnv("AWS_ACCESS_KEY_ID", server.credentials.accessKeyId);
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", server.credentials.secretAccessKey);
    try {
      const config = objectStoreConfigSchema.parse({ S3_ENDPOINT: server.endpoint, LANDING_BUCKET: server.bucket });
      const { log, lines } = capturingLogger();
      const store = await openObjectStore(config, { log });
      stores.push(store);
      expect(store.kind).toBe("s3");
      expect(store.location).toBe(`s3://${server.bucket}`);
      await store.put("selected/by-env.json", '{"ok":true}');
      expect((await store.get("selected/by-env.json")).toString()).toBe('{"ok":true}');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({
        objectStore: "s3",
        bucket: server.bucket,
        region: "us-east-1",
        endpoint: server.endpoint,
        reason: "OBJECT_STORE=auto and S3_ENDPOINT is set",
        msg: `object store: S3 bucket ${server.bucket} at ${server.endpoint}`,
      });
      expect(JSON.stringify(lines)).not.toContain(server.credentials.secretAccessKey);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
