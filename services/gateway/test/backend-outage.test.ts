import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BAR_MS, lastClosedBarTs, type SessionStartResponse } from "@gapfill/contracts";
import { connectNats, createLogger, openPostgresStore, openSupabaseStore, type Store } from "@gapfill/kit";
import {
  capturingLogger,
  provisionTestTopology,
  startPostgrestDouble,
  startPrivateNatsServer,
  startTcpProxy,
  TEST_SUPABASE_ANON_KEY,
  testBars,
  testDatabaseAddress,
  testDatabaseUrlVia,
  type PostgrestDouble,
} from "@gapfill/testkit";
import { buildApp } from "../src/index.ts";
import { createGatewayTestEnv, startGateway, SYMBOL, type GatewayTestEnv, type RunningGateway } from "./support/env.ts";
import { LOCAL_SECRET, localToken } from "./support/session.ts";

let env: GatewayTestEnv;
const quiet = createLogger({ service: "gateway-test", level: "silent" });
const START = lastClosedBarTs(Date.now()) - 200 * BAR_MS;

beforeAll(async () => {
  env = await createGatewayTestEnv();
  await env.store.upsertBars(testBars(SYMBOL, START, 100, 3));
});

afterAll(async () => {
  await env?.cleanup();
});

/** Whether a response is what a backend outage must give: 503 with the code and a Retry-After, nothing else. */
function expectOutage(response: { statusCode: number; headers: Record<string, unknown>; json: () => unknown }, code: string): void {
  expect(response.statusCode).toBe(503);
  expect(response.headers["retry-after"]).toBe("5");
  expect(response.json()).toMatchObject({ error: { code } });
}

describe("a Supabase Data API answering something unexpected", () => {
  let api: PostgrestDouble;
  let store: Store;
  let gw: RunningGateway;
  const logged = capturingLogger();

  beforeAll(async () => {
    api = await startPostgrestDouble({ schema: env.ns });
    store = await openSupabaseStore({ url: api.url, key: TEST_SUPABASE_ANON_KEY, log: logged.log });
    gw = await startGateway(env, { config: env.config({ LOCAL_JWT_SECRET: LOCAL_SECRET }), store });
  });
  afterAll(async () => {
    await gw?.close();
    await store?.close();
    await api?.close();
  });

  it("answers 503 store_unavailable with Retry-After, fails readiness with the reason, logs what it answered, and recovers", async () => {
    const headers = { authorization: `Bearer ${await localToken("unlucky")}` };
    expect((await gw.app.inject({ url: "/readyz" })).statusCode).toBe(200);
    // The report's case: a wrong SUPABASE_URL behind a proxy, which answers 404 with an empty body.
    api.answerWith({ status: 404, body: "" });
    try {
      expectOutage(await gw.app.inject({ method: "POST", url: "/session/start", headers }), "store_unavailable");
      expectOutage(await gw.app.inject({ url: "/bootstrap?limit=10&from_ts=0", headers }), "store_unavailable");
      const ready = await gw.app.inject({ url: "/readyz" });
      expect(ready.statusCode).toBe(503);
      expect(ready.json()).toMatchObject({ error: { code: "not_ready", message: expect.stringMatching(/^supabase store, ping: .*answered HTTP 404 Not Found with an empty body/) } });
      const warning = logged.lines.find((line) => line.level === 40 && String(line.msg).startsWith("supabase store failing"));
      expect(warning).toMatchObject({ target: new URL(api.url).host, cause: expect.stringMatching(/HTTP 404 Not Found with an empty body/) });
    } finally {
      api.answerWith(null);
    }
    expect((await gw.app.inject({ method: "POST", url: "/session/start", headers })).statusCode).toBe(201);
    expect((await gw.app.inject({ url: "/readyz" })).statusCode).toBe(200);
    expect(logged.lines.some((line) => line.level === 30 && String(line.msg).startsWith("supabase store recovered"))).toBe(true);
  });
});

describe("a Postgres database that stops answering", () => {
  it("answers session starts and pages with 503 store_unavailable while the connection is cut", async () => {
    const proxy = await startTcpProxy(testDatabaseAddress());
    const store = await openPostgresStore({ url: testDatabaseUrlVia(proxy.port), prepare: true, schema: env.ns, log: quiet });
    const gw = await startGateway(env, { config: env.config({ LOCAL_JWT_SECRET: LOCAL_SECRET, BOOTSTRAP_CACHE_MB: "0" }), store });
    try {
      const headers = { authorization: `Bearer ${await localToken("cut-off")}` };
      proxy.sever();
      expectOutage(await gw.app.inject({ method: "POST", url: "/session/start", headers }), "store_unavailable");
      expectOutage(await gw.app.inject({ url: `/bootstrap?limit=10&to_ts=${START + 50 * BAR_MS}`, headers }), "store_unavailable");
      expect((await gw.app.inject({ url: "/readyz" })).statusCode).toBe(503);
      proxy.restore();
      expect((await gw.app.inject({ method: "POST", url: "/session/start", headers })).statusCode).toBe(201);
    } finally {
      await gw.close();
      await store.close();
      await proxy.close();
    }
  });
});

describe("a NATS server that stops answering", () => {
  it("answers requests that need the sessions bucket with 503 nats_unavailable, not 500", async () => {
    const server = await startPrivateNatsServer();
    const nc = await connectNats({ url: server.url, name: "gateway-outage-test", log: quiet });
    await provisionTestTopology(nc, env.ns);
    const app = await buildApp({ config: env.config({ NATS_URL: server.url, LOCAL_JWT_SECRET: LOCAL_SECRET }), log: quiet, nc, store: env.store });
    try {
      const headers = { authorization: `Bearer ${await localToken("stranded")}` };
      const started = await app.inject({ method: "POST", url: "/session/start", headers });
      expect(started.statusCode).toBe(201);
      const session = started.json() as SessionStartResponse;
      await server.stop();
      expectOutage(await app.inject({ url: `/bootstrap?session_id=${session.session_id}` }), "nats_unavailable");
      expectOutage(await app.inject({ method: "POST", url: "/session/start", headers }), "nats_unavailable");
      // Back, so the app's consumers can be removed as it closes.
      await server.restart();
    } finally {
      await app.close();
      await nc.close();
      await server.dispose();
    }
  });
});
