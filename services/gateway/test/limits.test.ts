import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionStartResponse } from "@gapfill/contracts";
import { createGatewayTestEnv, startGateway, type GatewayTestEnv, type RunningGateway } from "./support/env.ts";
import { LOCAL_SECRET, localToken } from "./support/session.ts";

let env: GatewayTestEnv;
const gateways: RunningGateway[] = [];

async function gateway(extra: Record<string, string>, options: Parameters<typeof startGateway>[1] = {}): Promise<RunningGateway> {
  const gw = await startGateway(env, { config: env.config({ LOCAL_JWT_SECRET: LOCAL_SECRET, ...extra }), ...options });
  gateways.push(gw);
  return gw;
}

async function startSession(gw: RunningGateway, token: string): Promise<SessionStartResponse> {
  const response = await gw.app.inject({ method: "POST", url: "/session/start", headers: { authorization: `Bearer ${token}` } });
  expect(response.statusCode).toBe(201);
  return response.json() as SessionStartResponse;
}

beforeAll(async () => {
  env = await createGatewayTestEnv();
});

afterAll(async () => {
  for (const gw of gateways) await gw.close();
  await env?.cleanup();
});

describe("failed requests per client address", () => {
  it("answers a bad-token flood 401 up to FAILURES_PER_MINUTE, then 429 before the token is looked at, per address", async () => {
    const gw = await gateway({ FAILURES_PER_MINUTE: "5" });
    const forged = { authorization: "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl" };
    const attacker = "203.0.113.7";
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      statuses.push((await gw.app.inject({ method: "POST", url: "/session/start", headers: forged, remoteAddress: attacker })).statusCode);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
    const limited = await gw.app.inject({ method: "POST", url: "/session/start", headers: forged, remoteAddress: attacker });
    expect(limited.json()).toMatchObject({ error: { code: "too_many_failures" } });
    expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);
    // Even a good token from that address waits; another address is served.
    const good = { authorization: `Bearer ${await localToken("neighbour")}` };
    expect((await gw.app.inject({ method: "POST", url: "/session/start", headers: good, remoteAddress: attacker })).statusCode).toBe(429);
    expect((await gw.app.inject({ method: "POST", url: "/session/start", headers: good, remoteAddress: "198.51.100.9" })).statusCode).toBe(201);
  });

  it("stops made-up session ids and unknown paths the same way, without a session lookup once limited", async () => {
    const gw = await gateway({ FAILURES_PER_MINUTE: "3" });
    // Every read of the sessions bucket is a JetStream API request naming its stream: watch them go by.
    let lookups = 0;
    const watch = env.nc.subscribe("$JS.API.>", {
      callback: (_error, message) => void (message.subject.includes(`KV_${env.names.buckets.sessions}`) && lookups++),
    });
    await env.nc.flush();
    const prober = "203.0.113.8";
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const sessionId = `${"A".repeat(31)}${i}`;
      statuses.push((await gw.app.inject({ url: `/bootstrap?session_id=${sessionId}`, remoteAddress: prober })).statusCode);
    }
    await env.nc.flush();
    watch.unsubscribe();
    expect(statuses).toEqual([404, 404, 404, 429, 429, 429]);
    expect(lookups).toBe(3);
    const scanner = "203.0.113.9";
    const paths = ["/.env", "/wp-login.php", "/admin", "/healthz"];
    const answers = [];
    for (const url of paths) answers.push((await gw.app.inject({ method: "POST", url, remoteAddress: scanner })).statusCode);
    expect(answers).toEqual([404, 404, 404, 429]);
  });

  it("counts the client a trusted proxy names (X-Forwarded-For), not the proxy", async () => {
    const gw = await gateway({ FAILURES_PER_MINUTE: "2", TRUST_PROXY: "10.0.0.1" });
    const via = (client: string) => ({ remoteAddress: "10.0.0.1", headers: { "x-forwarded-for": client } });
    for (let i = 0; i < 3; i++) await gw.app.inject({ url: "/nowhere", ...via("192.0.2.1") });
    expect((await gw.app.inject({ url: "/healthz", ...via("192.0.2.1") })).statusCode).toBe(429);
    expect((await gw.app.inject({ url: "/healthz", ...via("192.0.2.2") })).statusCode).toBe(200);
  });

  it("rate-limits POST /session/stop per user, like /session/start", async () => {
    const gw = await gateway({ SESSION_START_PER_MINUTE: "3" });
    const token = await localToken("stopper");
    const session = await startSession(gw, token);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const response = await gw.app.inject({
        method: "POST",
        url: "/session/stop",
        headers: { authorization: `Bearer ${token}` },
        payload: { session_id: session.session_id },
      });
      statuses.push(response.statusCode);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
  });
});

describe("HEAD", () => {
  it("shares the GET count of /bootstrap, both ways", async () => {
    const gw = await gateway({ BOOTSTRAP_PER_MINUTE: "3" });
    const headers = { authorization: `Bearer ${await localToken("header")}` };
    const get = () => gw.app.inject({ url: "/bootstrap", headers }).then((r) => r.statusCode);
    const head = () => gw.app.inject({ method: "HEAD", url: "/bootstrap", headers });
    const first = await head();
    expect(first.statusCode).toBe(200);
    expect(first.body).toBe("");
    expect(first.headers["x-ratelimit-remaining"]).toBe("2");
    expect([await get(), await get()]).toEqual([200, 200]);
    const limited = await head();
    expect(limited.statusCode).toBe(429);
    expect(await get()).toBe(429);
  });

  it("answers HEAD /stream/gap with the stream's headers at once, and never holds a stream slot", async () => {
    const gw = await gateway({ GAP_STREAMS_PER_SESSION: "1" }, { listen: true });
    const session = await startSession(gw, await localToken("peeker"));
    const url = `${gw.url}/stream/gap?session_id=${session.session_id}`;
    for (let i = 0; i < 3; i++) {
      const response = await fetch(url, { method: "HEAD", signal: AbortSignal.timeout(5_000) });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
      expect(await response.text()).toBe("");
    }
    // The only slot is free: a stream opens.
    const stream = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    try {
      expect(stream.status).toBe(200);
      // And with it taken, a HEAD answers what a GET would: 429.
      expect((await fetch(url, { method: "HEAD" })).status).toBe(429);
    } finally {
      await stream.body?.cancel();
    }
  });
});
