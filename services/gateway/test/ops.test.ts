import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { networkInterfaces } from "node:os";
import { runService } from "@gapfill/kit";
import { freePort, TEST_DATABASE_URL, TEST_NATS_URL, waitFor } from "@gapfill/testkit";
import { buildApp, gatewayService } from "../src/index.ts";
import { createGatewayTestEnv, startGateway, type GatewayTestEnv, type RunningGateway } from "./support/env.ts";
import { LOCAL_SECRET, localToken } from "./support/session.ts";

let env: GatewayTestEnv;
let gw: RunningGateway;

beforeAll(async () => {
  env = await createGatewayTestEnv();
  gw = await startGateway(env, {
    config: env.config({ LOCAL_JWT_SECRET: LOCAL_SECRET, CORS_ORIGINS: "https://chart.example.com", SESSION_START_PER_MINUTE: "3" }),
  });
});

afterAll(async () => {
  await gw?.close();
  await env?.cleanup();
});

describe("operations endpoints", () => {
  it("answers /healthz and /readyz (NATS, store and bar feeds reachable)", async () => {
    expect((await gw.app.inject({ url: "/healthz" })).json()).toEqual({ status: "ok" });
    const ready = await gw.app.inject({ url: "/readyz" });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: "ready" });
  });

  it("reports not ready with 503 when the store is unreachable", async () => {
    const broken = { ...env.store, ping: () => Promise.reject(new Error("connection refused")) };
    const app = await buildApp({ config: env.config({ LOCAL_JWT_SECRET: LOCAL_SECRET }), log: env.log, nc: env.nc, store: broken });
    try {
      const ready = await app.inject({ url: "/readyz" });
      expect(ready.statusCode).toBe(503);
      expect(ready.json()).toEqual({ error: { code: "not_ready", message: "connection refused" } });
    } finally {
      await app.close();
    }
  });

  it("serves Prometheus metrics on the metrics port (loopback by default), not on the API port", async () => {
    const [port, metricsPort] = [await freePort(), await freePort()];
    const run = await runService(gatewayService, {
      env: {
        NATS_URL: TEST_NATS_URL,
        NATS_NAMESPACE: env.ns,
        DATABASE_URL: TEST_DATABASE_URL,
        DATABASE_SCHEMA: env.ns,
        LOCAL_JWT_SECRET: LOCAL_SECRET,
        PORT: String(port),
        HOST: "0.0.0.0",
        GATEWAY_METRICS_PORT: String(metricsPort),
        LOG_LEVEL: "silent",
      },
      exit: () => {},
    });
    try {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok, { what: "the gateway" });
      expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(404);
      const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
      const body = await response.text();
      for (const name of ["gateway_sessions_started_total", "gateway_sse_streams_open", "gateway_bars_sent_total", "gateway_slow_consumers_total", "gateway_http_request_duration_seconds"]) {
        expect(body).toContain(name);
      }
      // The API listens on every interface; the metrics port only on loopback, so another address does not reach it.
      const outside = Object.values(networkInterfaces()).flat().find((address) => address && !address.internal && address.family === "IPv4");
      expect(outside, "a non-loopback IPv4 address on this machine").toBeDefined();
      expect((await fetch(`http://${outside!.address}:${port}/healthz`)).status).toBe(200);
      await expect(fetch(`http://${outside!.address}:${metricsPort}/metrics`)).rejects.toThrow();
    } finally {
      expect(await run.stop()).toBe(0);
    }
  });

  it("describes the API in OpenAPI JSON and serves the docs UI", async () => {
    const spec = (await gw.app.inject({ url: "/openapi.json" })).json() as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(spec.openapi).toMatch(/^3\./);
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(["/session/start", "/session/stop", "/bootstrap", "/stream/gap", "/healthz", "/readyz"]));
    expect(JSON.stringify(spec.paths["/bootstrap"])).toContain("next_cursor");
    const ui = await gw.app.inject({ url: "/docs/" });
    expect(ui.statusCode).toBe(200);
    expect(ui.headers["content-type"]).toMatch(/^text\/html/);
  });
});

describe("OpenAPI UI", () => {
  it("is off with OPENAPI_UI=false (the production default), while /openapi.json is still served", async () => {
    const quiet = await startGateway(env, { config: env.config({ LOCAL_JWT_SECRET: LOCAL_SECRET, OPENAPI_UI: "false" }) });
    try {
      expect((await quiet.app.inject({ url: "/docs/" })).statusCode).toBe(404);
      expect((await quiet.app.inject({ url: "/openapi.json" })).statusCode).toBe(200);
    } finally {
      await quiet.close();
    }
  });
});

describe("URLs handed to clients", () => {
  const start = (gateway: RunningGateway, headers: Record<string, string>) =>
    gateway.app.inject({ method: "POST", url: "/session/start", headers, remoteAddress: "10.0.0.1" });

  it("use PUBLIC_BASE_URL whatever the Host header says", async () => {
    const gateway = await startGateway(env, { config: env.config({ LOCAL_JWT_SECRET: LOCAL_SECRET, PUBLIC_BASE_URL: "https://api.example.com" }) });
    try {
      const response = await start(gateway, { authorization: `Bearer ${await localToken("based")}`, host: "evil.example" });
      expect(response.json()).toMatchObject({ stream_url: expect.stringMatching(/^https:\/\/api\.example\.com\/stream\/gap\?session_id=/) });
    } finally {
      await gateway.close();
    }
  });

  it("use the request's host only when ALLOWED_HOSTS lists it, with the scheme and host a trusted proxy names", async () => {
    const gateway = await startGateway(env, {
      config: env.config({ LOCAL_JWT_SECRET: LOCAL_SECRET, ALLOWED_HOSTS: "api.example.com,localhost:8000", TRUST_PROXY: "10.0.0.1" }),
    });
    try {
      const authorization = `Bearer ${await localToken("hosted")}`;
      const direct = await start(gateway, { authorization, host: "localhost:8000" });
      expect(direct.json()).toMatchObject({ bootstrap_url: expect.stringMatching(/^http:\/\/localhost:8000\/bootstrap\?session_id=/) });
      const proxied = await start(gateway, { authorization, host: "gateway:8000", "x-forwarded-host": "api.example.com", "x-forwarded-proto": "https" });
      expect(proxied.json()).toMatchObject({ stream_url: expect.stringMatching(/^https:\/\/api\.example\.com\/stream\/gap\?/) });
      for (const host of ["evil.example", "localhost:9999", "api.example.com.evil.example"]) {
        const refused = await start(gateway, { authorization, host });
        expect(refused.statusCode, host).toBe(400);
        expect(refused.json(), host).toMatchObject({ error: { code: "invalid_host" } });
      }
    } finally {
      await gateway.close();
    }
  });
});

describe("chart page", () => {
  it("serves the page, its module and the chart library from node_modules, and nothing else under /vendor/", async () => {
    const page = await gw.app.inject({ url: "/" });
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toMatch(/^text\/html/);
    expect(page.body).toContain('<script type="module" src="/app.js">');
    const app = await gw.app.inject({ url: "/app.js" });
    expect(app.headers["content-type"]).toMatch(/javascript/);
    const library = app.body.match(/from "(\/vendor\/[^"]+)"/)![1]!;
    const vendor = await gw.app.inject({ url: library });
    expect(vendor.statusCode).toBe(200);
    expect(vendor.headers["content-type"]).toMatch(/javascript/);
    expect(vendor.body).toContain("createChart");
    for (const url of ["/vendor/lightweight-charts.development.mjs", "/vendor/../package.json", "/nope.js"]) {
      const refused = await gw.app.inject({ url });
      expect(refused.statusCode, url).toBe(404);
      expect(refused.json(), url).toHaveProperty("error.code");
    }
  });
});

describe("security defaults", () => {
  it("sends security headers and a request id", async () => {
    const response = await gw.app.inject({ url: "/healthz" });
    expect(response.headers["x-content-type-options"]).toBe("nosniff");
    expect(response.headers["content-security-policy"]).toBeDefined();
    expect(response.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("allows CORS only from CORS_ORIGINS", async () => {
    const allowed = await gw.app.inject({
      method: "OPTIONS",
      url: "/session/start",
      headers: { origin: "https://chart.example.com", "access-control-request-method": "POST", "access-control-request-headers": "authorization" },
    });
    expect(allowed.headers["access-control-allow-origin"]).toBe("https://chart.example.com");
    const other = await gw.app.inject({ url: "/healthz", headers: { origin: "https://evil.example.com" } });
    expect(other.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("rate-limits session starts per user with a 429 JSON error", async () => {
    const headers = { authorization: `Bearer ${await localToken("eager")}` };
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await gw.app.inject({ method: "POST", url: "/session/start", headers })).statusCode);
    expect(statuses).toEqual([201, 201, 201, 429]);
    const limited = await gw.app.inject({ method: "POST", url: "/session/start", headers });
    expect(limited.json()).toMatchObject({ error: { code: "rate_limited" } });
    expect(limited.headers["retry-after"]).toBeDefined();
    // Another user has their own budget.
    const other = await gw.app.inject({ method: "POST", url: "/session/start", headers: { authorization: `Bearer ${await localToken("calm")}` } });
    expect(other.statusCode).toBe(201);
  });
});
