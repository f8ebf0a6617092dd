import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { BAR_MS, lastClosedBarTs, type SessionStartResponse } from "@gapfill/contracts";
import { testBars } from "@gapfill/testkit";
import { createGatewayTestEnv, startGateway, SYMBOL, type GatewayTestEnv, type RunningGateway } from "./support/env.ts";
import { metricValue } from "./support/metrics.ts";
import { LOCAL_SECRET, localToken } from "./support/session.ts";

let env: GatewayTestEnv;
let gw: RunningGateway;
let auth: Record<string, string>;
let session: SessionStartResponse;
const START = lastClosedBarTs(Date.now()) - 500 * BAR_MS;
const bars = testBars(SYMBOL, START, 400, 5);

beforeAll(async () => {
  env = await createGatewayTestEnv();
  await env.publishBars(bars);
  await env.store.upsertBars(bars.slice(0, 300));
  gw = await startGateway(env, {
    config: env.config({ LOCAL_JWT_SECRET: LOCAL_SECRET, SESSION_START_PER_MINUTE: "100000", BOOTSTRAP_PER_MINUTE: "100000", GAP_STREAM_PER_MINUTE: "100000", FAILURES_PER_MINUTE: "1000000" }),
    listen: true,
  });
  auth = { authorization: `Bearer ${await localToken("fuzzer")}` };
  session = (await gw.app.inject({ method: "POST", url: "/session/start", headers: auth })).json() as SessionStartResponse;
});

afterAll(async () => {
  await gw?.close();
  await env?.cleanup();
});

interface Case {
  name: string;
  method?: "GET" | "POST" | "PUT" | "DELETE";
  url: string | (() => string);
  headers?: Record<string, string> | (() => Record<string, string>);
  payload?: string;
  status: number;
  code?: string;
}

const json = { "content-type": "application/json" };
const unknownId = "A".repeat(32);
const future = lastClosedBarTs(Date.now()) + 3600_000;
const sid = () => session.session_id;

const cases: Case[] = [
  { name: "start without a token", method: "POST", url: "/session/start", headers: {}, status: 401, code: "missing_token" },
  { name: "start with a malformed symbol", method: "POST", url: "/session/start", payload: '{"symbol":"btc-usdt"}', status: 400 },
  { name: "start with an unknown symbol", method: "POST", url: "/session/start", payload: '{"symbol":"DOGEUSDT"}', status: 400, code: "unknown_symbol" },
  { name: "start with a numeric symbol", method: "POST", url: "/session/start", payload: '{"symbol":123}', status: 400 },
  { name: "start with an unknown field", method: "POST", url: "/session/start", payload: '{"extra":1}', status: 400 },
  { name: "start with invalid JSON", method: "POST", url: "/session/start", payload: "{not json", status: 400, code: "invalid_json" },
  { name: "start with a JSON array", method: "POST", url: "/session/start", payload: "[]", status: 400 },
  { name: "start with SQL in the symbol", method: "POST", url: "/session/start", payload: `{"symbol":"'; DROP TABLE price_15s;--"}`, status: 400 },
  { name: "start with an empty JSON body", method: "POST", url: "/session/start", payload: "", status: 400, code: "invalid_json" },
  { name: "start with text/plain", method: "POST", url: "/session/start", headers: () => ({ ...auth, "content-type": "text/plain" }), payload: "BTCUSDT", status: 415 },
  { name: "start with a form body", method: "POST", url: "/session/start", headers: () => ({ ...auth, "content-type": "application/x-www-form-urlencoded" }), payload: "symbol=BTCUSDT", status: 415 },
  { name: "start with an oversized body", method: "POST", url: "/session/start", payload: JSON.stringify({ symbol: "X".repeat(10_000) }), status: 413, code: "body_too_large" },
  { name: "start with GET", method: "GET", url: "/session/start", status: 405, code: "method_not_allowed" },
  { name: "start with a Basic header", method: "POST", url: "/session/start", headers: { authorization: "Basic YTpi" }, status: 401 },
  { name: "start with an injected token", method: "POST", url: "/session/start", headers: { authorization: "Bearer ' OR 1=1 --" }, status: 401 },
  { name: "start with a huge token", method: "POST", url: "/session/start", headers: { authorization: `Bearer ${"a".repeat(9000)}` }, status: 401 },
  { name: "stop without a body", method: "POST", url: "/session/stop", status: 400 },
  { name: "stop with a short id", method: "POST", url: "/session/stop", payload: '{"session_id":"abc"}', status: 400 },
  { name: "stop an unknown session", method: "POST", url: "/session/stop", payload: `{"session_id":"${unknownId}"}`, status: 404, code: "unknown_session" },
  { name: "stop with an injected id", method: "POST", url: "/session/stop", payload: '{"session_id":"../../etc/passwd\\u0000aaaaaaaaaaaaaaaa"}', status: 400 },
  { name: "stop without a token", method: "POST", url: "/session/stop", headers: json, payload: `{"session_id":"${unknownId}"}`, status: 401 },
  { name: "bootstrap without credentials", url: "/bootstrap", headers: {}, status: 401, code: "missing_credentials" },
  { name: "bootstrap limit 0", url: "/bootstrap?limit=0", status: 400 },
  { name: "bootstrap negative limit", url: "/bootstrap?limit=-5", status: 400 },
  { name: "bootstrap non-numeric limit", url: "/bootstrap?limit=abc", status: 400 },
  { name: "bootstrap huge limit", url: "/bootstrap?limit=99999999999", status: 400 },
  { name: "bootstrap limit above the page limit", url: "/bootstrap?limit=5001", status: 400, code: "limit_too_large" },
  { name: "bootstrap non-numeric from_ts", url: "/bootstrap?from_ts=yesterday", status: 400 },
  { name: "bootstrap negative from_ts", url: "/bootstrap?from_ts=-15000", status: 400 },
  { name: "bootstrap huge from_ts", url: "/bootstrap?from_ts=100000000000000000000", status: 400 },
  { name: "bootstrap from_ts past 2100", url: "/bootstrap?from_ts=9999999990000", status: 400 },
  { name: "bootstrap unaligned from_ts", url: `/bootstrap?from_ts=${START + 1}`, status: 400 },
  { name: "bootstrap fractional to_ts", url: `/bootstrap?to_ts=${START}.5`, status: 400 },
  { name: "bootstrap reversed times", url: `/bootstrap?from_ts=${START + BAR_MS}&to_ts=${START}`, status: 400 },
  { name: "bootstrap garbage cursor", url: "/bootstrap?cursor=garbage", status: 400 },
  { name: "bootstrap forged cursor", url: `/bootstrap?cursor=${Buffer.from('{"s":"BTCUSDT","b":0,"f":null,"t":null}').toString("base64url")}.AAAAAAAAAAAAAAAAAAAAAA`, status: 400, code: "invalid_cursor" },
  { name: "bootstrap lower-case symbol", url: "/bootstrap?symbol=btcusdt", status: 400 },
  { name: "bootstrap unknown symbol", url: "/bootstrap?symbol=DOGEUSDT", status: 400, code: "unknown_symbol" },
  { name: "bootstrap SQL in symbol", url: `/bootstrap?symbol=${encodeURIComponent("' OR 1=1 --")}`, status: 400 },
  { name: "bootstrap unknown session", url: `/bootstrap?session_id=${unknownId}`, headers: {}, status: 404 },
  { name: "bootstrap unknown parameter", url: "/bootstrap?foo=1", status: 400 },
  { name: "bootstrap repeated parameter", url: `/bootstrap?from_ts=${START}&from_ts=${START}`, status: 400 },
  { name: "bootstrap with POST", method: "POST", url: "/bootstrap", status: 405 },
  { name: "stream without session_id", url: "/stream/gap", status: 400 },
  { name: "stream with a malformed session_id", url: "/stream/gap?session_id=%3Cscript%3E", status: 400 },
  { name: "stream with an unknown session", url: `/stream/gap?session_id=${unknownId}`, status: 404 },
  { name: "stream unaligned from_ts", url: () => `/stream/gap?session_id=${sid()}&from_ts=${START + 7}`, status: 400 },
  { name: "stream from_ts in the future", url: () => `/stream/gap?session_id=${sid()}&from_ts=${future}`, status: 400, code: "from_ts_in_future" },
  { name: "stream reversed times", url: () => `/stream/gap?session_id=${sid()}&from_ts=${START + BAR_MS}&to_ts=${START}`, status: 400 },
  { name: "stream bad partial flag", url: () => `/stream/gap?session_id=${sid()}&partial=yes`, status: 400 },
  { name: "stream bad Last-Event-ID", url: () => `/stream/gap?session_id=${sid()}`, headers: { "last-event-id": "abc" }, status: 400, code: "invalid_last_event_id" },
  { name: "stream negative last_event_id", url: () => `/stream/gap?session_id=${sid()}&last_event_id=-1`, status: 400 },
  { name: "stream from_ts older than the stream", url: () => `/stream/gap?session_id=${sid()}&from_ts=${START - 10 * BAR_MS}`, status: 400, code: "from_ts_too_old" },
  { name: "dev token with a bad sub", method: "POST", url: "/dev/token", payload: '{"sub":"a b"}', status: 400 },
  { name: "unknown route", url: "/nope", status: 404, code: "not_found" },
  { name: "path traversal", url: "/../../etc/passwd", status: 404 },
  { name: "malformed URL encoding", url: "/bootstrap?symbol=%zz", status: 400 },
  { name: "DELETE healthz", method: "DELETE", url: "/healthz", status: 405 },
];

describe("malformed requests", () => {
  it(`has at least 40 cases (${cases.length})`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  it.each(cases)("$name → $status JSON error", async (c) => {
    const headers = typeof c.headers === "function" ? c.headers() : (c.headers ?? { ...auth, ...(c.payload !== undefined ? json : {}) });
    const response = await gw.app.inject({
      method: c.method ?? "GET",
      url: typeof c.url === "function" ? c.url() : c.url,
      headers,
      payload: c.payload,
    });
    expect(response.statusCode).toBe(c.status);
    expect(response.headers["content-type"]).toMatch(/^application\/json/);
    const body = response.json() as { error: { code: string; message: string } };
    expect(Object.keys(body)).toEqual(["error"]);
    expect(typeof body.error.message).toBe("string");
    expect(body.error.message).not.toMatch(/\n\s+at /);
    if (c.code) expect(body.error.code).toBe(c.code);
  });
});

describe("query parameter fuzzing", () => {
  const value = fc.oneof(
    fc.string({ maxLength: 30 }),
    fc.integer().map(String),
    fc.bigInt({ min: -(10n ** 25n), max: 10n ** 25n }).map(String),
    fc.integer({ min: 0, max: 500 }).map((i) => String(START + i * BAR_MS)),
    fc.constantFrom("", "0", "1", "-0", "1e9", "NaN", "Infinity", "0x10", " 15000", "BTCUSDT", "%00", "\u0000", "🙂", "null"),
  );
  const params = fc.dictionary(
    fc.constantFrom("from_ts", "to_ts", "limit", "cursor", "symbol", "partial", "last_event_id", "session_id", "x"),
    value,
    { maxKeys: 5 },
  );

  async function fuzzOnce(path: string, query: Record<string, string>, withSession: boolean): Promise<void> {
    const search = new URLSearchParams(query);
    if (withSession && !("session_id" in query)) search.set("session_id", session.session_id);
    const response = await fetch(`${gw.url}${path}?${search}`, { headers: withSession ? {} : auth, signal: AbortSignal.timeout(5000) });
    expect(response.status).toBeLessThan(500);
    if (response.status >= 400) {
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(typeof body.error.code).toBe("string");
    } else {
      // A valid combination: an open SSE stream or a page; close it and go on.
      await response.body?.cancel();
    }
  }

  it("never answers 5xx to random /bootstrap and /stream/gap queries, and stays healthy", async () => {
    await fc.assert(fc.asyncProperty(params, fc.boolean(), (query, withSession) => fuzzOnce("/bootstrap", query, withSession)), { numRuns: 150 });
    await fc.assert(fc.asyncProperty(params, (query) => fuzzOnce("/stream/gap", query, true)), { numRuns: 150 });
    expect((await gw.app.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
    expect((await gw.app.inject({ method: "GET", url: "/readyz" })).statusCode).toBe(200);
  });

  it("answered no request with a 5xx in this whole file", async () => {
    const metrics = (await gw.app.inject({ method: "GET", url: "/metrics" })).body;
    const serverErrors = metrics.split("\n").filter((line) => /^gateway_http_request_duration_seconds_count\{.*status="5\d\d"/.test(line));
    expect(serverErrors).toEqual([]);
    // Every malformed case and every /bootstrap fuzz run was counted (valid gap streams are not latencies).
    expect(await metricValue(gw, "gateway_http_request_duration_seconds_count")).toBeGreaterThan(cases.length + 150);
  });
});
