import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { natsEnv } from "@gapfill/contracts";
import { connectTestNats, deleteNamespaceStreams, freePort, provisionTestTopology, TEST_NATS_URL, uniqueNamespace, waitFor } from "@gapfill/testkit";
import { ConfigurationError, runService, type NatsConnection, type PlainServiceSpec, type NatsServiceSpec, type ServiceLifecycle } from "../src/index.ts";

const schema = z.object({ ...natsEnv, LOG_LEVEL: z.literal("silent").default("silent"), PORT: z.coerce.number().default(0) });
const noExit = () => {};

/** A service whose lifecycle the test drives. */
function controlled() {
  let becomeReady!: () => void;
  let fail!: (error: unknown) => void;
  let end!: () => void;
  const stop = vi.fn(async () => end());
  const lifecycle: ServiceLifecycle = {
    ready: new Promise<void>((resolve) => (becomeReady = resolve)),
    done: new Promise<void>((resolve, reject) => {
      end = resolve;
      fail = reject;
    }),
    stop,
  };
  return { lifecycle, becomeReady, fail, stop };
}

const readyz = async (port: number) => {
  const response = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: response.status, body: (await response.json()) as { status: string; reason?: string } };
};

describe("runService", () => {
  let nc: NatsConnection;
  const ns = uniqueNamespace();
  beforeAll(async () => {
    nc = await connectTestNats();
  });
  afterAll(async () => {
    await deleteNamespaceStreams(nc, ns);
    await nc.close();
  });

  it("refuses a bad configuration with exit 78 and a message naming the variable", async () => {
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const start = vi.fn();
    const spec: PlainServiceSpec<typeof schema> = { name: "svc", configSchema: schema, start };
    const run = await runService(spec, { env: { NATS_NAMESPACE: "not a namespace" }, exit: noExit });
    expect(await run.exitCode).toBe(78);
    expect(String(stderr.mock.calls[0]?.[0])).toMatch(/svc: invalid configuration\n {2}NATS_NAMESPACE: expected up to 32 letters/);
    expect(start).not.toHaveBeenCalled();
    stderr.mockRestore();
  });

  it("exits 78 when start-up finds a configuration that cannot work, and 1 for any other failure", async () => {
    const refused: PlainServiceSpec<typeof schema> = {
      name: "svc",
      configSchema: schema,
      start: async () => {
        throw new ConfigurationError("SOME_KEY: cannot write with a read-only key");
      },
    };
    expect(await (await runService(refused, { env: {}, exit: noExit })).exitCode).toBe(78);
    const broken: PlainServiceSpec<typeof schema> = {
      name: "svc",
      configSchema: schema,
      start: async () => {
        throw new Error("port in use");
      },
    };
    expect(await (await runService(broken, { env: {}, exit: noExit })).exitCode).toBe(1);
  });

  it("reports readiness on its metrics port, stops the service on request and exits 0", async () => {
    const port = await freePort();
    const service = controlled();
    const spec: PlainServiceSpec<typeof schema> = {
      name: "svc",
      configSchema: schema,
      metrics: () => ({ port, host: "127.0.0.1" }),
      start: async () => service.lifecycle,
    };
    const run = await runService(spec, { env: {}, exit: noExit });
    await waitFor(() => readyz(port), { what: "the metrics port" });
    expect(await readyz(port)).toEqual({ status: 503, body: { status: "not_ready", reason: "starting" } });
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    service.becomeReady();
    await waitFor(async () => (await readyz(port)).status === 200, { what: "readiness" });
    expect((await (await fetch(`http://127.0.0.1:${port}/metrics`)).text())).toContain('service="svc"');
    expect(await run.stop()).toBe(0);
    expect(service.stop).toHaveBeenCalledTimes(1);
  });

  it("exits 1 after stopping when the running service fails on its own", async () => {
    const service = controlled();
    const spec: PlainServiceSpec<typeof schema> = { name: "svc", configSchema: schema, start: async () => service.lifecycle };
    const run = await runService(spec, { env: {}, exit: noExit });
    service.becomeReady();
    service.fail(new Error("subscription ended"));
    expect(await run.exitCode).toBe(1);
    expect(service.stop).toHaveBeenCalledTimes(1);
  });

  it("exits 0 when a one-shot job is done", async () => {
    const spec: PlainServiceSpec<typeof schema> = {
      name: "job",
      configSchema: schema,
      start: async () => ({ ready: Promise.resolve(), done: Promise.resolve(), stop: async () => {} }),
    };
    expect(await (await runService(spec, { env: {}, exit: noExit })).exitCode).toBe(0);
  });

  it("waits for the streams a service needs, and starts it once they are provisioned", async () => {
    const port = await freePort();
    const service = controlled();
    const start = vi.fn(async () => service.lifecycle);
    const spec: NatsServiceSpec<typeof schema> = {
      name: "svc",
      configSchema: schema,
      needs: ["bars", "sessions"],
      metrics: () => ({ port, host: "127.0.0.1" }),
      start,
    };
    // The service's existence checks are JetStream API requests: seeing two proves it looked and found nothing.
    let checks = 0;
    const probe = nc.subscribe(`$JS.API.STREAM.INFO.${ns}_BARS`, { callback: () => void checks++ });
    const run = await runService(spec, { env: { NATS_URL: TEST_NATS_URL, NATS_NAMESPACE: ns }, exit: noExit });
    await waitFor(() => checks >= 2, { what: "two topology checks" });
    probe.unsubscribe();
    expect(start).not.toHaveBeenCalled();
    expect(await readyz(port)).toEqual({ status: 503, body: { status: "not_ready", reason: "starting" } });
    await provisionTestTopology(nc, ns);
    await waitFor(() => start.mock.calls.length === 1, { what: "the service to start" });
    service.becomeReady();
    await waitFor(async () => (await readyz(port)).status === 200, { what: "readiness" });
    expect(await run.stop()).toBe(0);
  });
});
