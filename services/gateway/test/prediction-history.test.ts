/**
 * `GET /predictions`: one model version's prediction history from ml_predictions, oldest first — the version of the
 * symbol's newest prediction unless one is named — in a default window of PREDICTIONS_WINDOW_BARS bar times, cut at
 * `limit` with a `next_from_ts` to go on from; with the access, rate limit and errors of `/bootstrap`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BAR_MS,
  PREDICTIONS_LIMIT,
  PREDICTIONS_WINDOW_BARS,
  type PredictionPoint,
  type PredictionsResponse,
  type SessionStartResponse,
} from "@gapfill/contracts";
import { createLogger, openPostgresStore, type PredictionRow } from "@gapfill/kit";
import { seededWords, startTcpProxy, TEST_SERIES_START, testDatabaseAddress, testDatabaseUrlVia } from "@gapfill/testkit";
import { createGatewayTestEnv, startGateway, SYMBOL, type GatewayTestEnv, type RunningGateway } from "./support/env.ts";
import { LOCAL_SECRET, localToken, startSession, stopSession } from "./support/session.ts";

/** Served, but with no prediction in the store. */
const OTHER = "ETHUSDT";
/** The newest v2 prediction is at this bar index; every index is a bar time from TEST_SERIES_START. */
const NEWEST = 12_000;
const tsOf = (index: number) => TEST_SERIES_START + index * BAR_MS;

const random = seededWords(7);
const rows = (modelVersion: string, indices: readonly number[]): PredictionRow[] =>
  indices.map((index) => ({ symbol: SYMBOL, ts: tsOf(index), model_version: modelVersion, prob_up: random() / 2 ** 32 }));
const range = (from: number, to: number, step: number) => Array.from({ length: Math.floor((to - from) / step) + 1 }, (_, i) => from + i * step);

/** The older model: one prediction every 4 bars up to bar 11,000 (it was replaced then). */
const v1 = rows("v1", range(0, 11_000, 4));
/**
 * The newer model: one prediction every 8 bars up to bar 12,000, so on many bars v1 scored too; and bar 2,001, the
 * oldest bar time of the default window (2,000 is the newest one outside it).
 */
const v2 = rows("v2", [...range(0, 1_992, 8), 2_000, 2_001, ...range(2_008, NEWEST, 8)]);
const points = (list: readonly PredictionRow[]): PredictionPoint[] => list.map(({ ts, prob_up }) => ({ ts, prob_up }));
const windowStart = (newestTs: number) => newestTs - (PREDICTIONS_WINDOW_BARS - 1) * BAR_MS;

let env: GatewayTestEnv;
let gw: RunningGateway;
let bearer: Record<string, string>;
let session: SessionStartResponse;

beforeAll(async () => {
  env = await createGatewayTestEnv();
  await env.store.upsertPredictions([...v1, ...v2]);
  gw = await startGateway(env, { config: env.config({ LOCAL_JWT_SECRET: LOCAL_SECRET, BINANCE_SYMBOL: `${SYMBOL},${OTHER}` }), listen: true });
  bearer = { authorization: `Bearer ${await localToken("reader")}` };
  session = await startSession(gw.url, bearer.authorization!.slice("Bearer ".length));
});

afterAll(async () => {
  await gw?.close();
  await env?.cleanup();
});

async function history(query: string, headers: Record<string, string> = {}) {
  const response = await gw.app.inject({ method: "GET", url: `/predictions?${query}`, headers });
  return { response, body: response.statusCode === 200 ? (response.json() as PredictionsResponse) : null };
}

describe("GET /predictions", () => {
  it("lists the newest model's predictions of the session's symbol, oldest first, in the default window", async () => {
    const { response, body } = await history(`session_id=${session.session_id}`);
    expect(response.statusCode).toBe(200);
    expect(response.headers["cache-control"]).toBe("private, no-cache");
    const inWindow = v2.filter((p) => p.ts >= windowStart(tsOf(NEWEST)));
    expect(inWindow[0]!.ts).toBe(tsOf(2_001));
    // Only v2's values, also where v1 scored the same bars.
    expect(body).toEqual({ symbol: SYMBOL, model_version: "v2", predictions: points(inWindow), next_from_ts: null });
  });

  it("is the URL a session start hands out, and works with a bearer alone (the first symbol, or the one named)", async () => {
    expect(session.predictions_url).toBe(`${gw.url}/predictions?session_id=${session.session_id}`);
    const byUrl = await fetch(session.predictions_url);
    expect(byUrl.status).toBe(200);
    const viaBearer = await history("", bearer);
    expect(await byUrl.json()).toEqual(viaBearer.body);
    expect(viaBearer.body!.predictions.length).toBeGreaterThan(1000);

    // A symbol with no prediction yet: an empty list and no version.
    const empty = { symbol: OTHER, model_version: null, predictions: [], next_from_ts: null };
    expect((await history(`symbol=${OTHER}`, bearer)).body).toEqual(empty);
    const otherSession = await startSession(gw.url, bearer.authorization!.slice("Bearer ".length), { symbol: OTHER });
    expect((await history(`session_id=${otherSession.session_id}`)).body).toEqual(empty);
  });

  it("starts at from_ts (inclusive) and lists a named model_version in its own window", async () => {
    const from = tsOf(9_000);
    const { body } = await history(`session_id=${session.session_id}&from_ts=${from}`);
    expect(body).toEqual({ symbol: SYMBOL, model_version: "v2", predictions: points(v2.filter((p) => p.ts >= from)), next_from_ts: null });
    expect(body!.predictions[0]!.ts).toBe(from);

    const older = await history(`session_id=${session.session_id}&model_version=v1`);
    const v1Window = v1.filter((p) => p.ts >= windowStart(tsOf(11_000)));
    expect(older.body).toEqual({ symbol: SYMBOL, model_version: "v1", predictions: points(v1Window), next_from_ts: null });
    expect((await history(`session_id=${session.session_id}&model_version=v1&from_ts=${tsOf(10_990)}`)).body!.predictions).toEqual(
      points(v1.filter((p) => p.ts >= tsOf(10_990))),
    );
    // A version that scored nothing: an empty list of that version.
    expect((await history(`session_id=${session.session_id}&model_version=v0`)).body).toEqual({
      symbol: SYMBOL,
      model_version: "v0",
      predictions: [],
      next_from_ts: null,
    });
  });

  it("cuts the list at limit and goes on from next_from_ts: every prediction once, in order", async () => {
    const listed: PredictionPoint[] = [];
    let query = `session_id=${session.session_id}&limit=300&from_ts=0`;
    let parts = 0;
    for (;;) {
      const { response, body } = await history(query);
      expect(response.statusCode).toBe(200);
      expect(body!.model_version).toBe("v2");
      expect(body!.predictions.length).toBeLessThanOrEqual(300);
      listed.push(...body!.predictions);
      parts++;
      if (body!.next_from_ts === null) break;
      expect(body!.next_from_ts).toBe(body!.predictions.at(-1)!.ts + BAR_MS);
      query = `session_id=${session.session_id}&limit=300&model_version=v2&from_ts=${body!.next_from_ts}`;
    }
    expect(listed).toEqual(points(v2));
    expect(parts).toBe(Math.ceil(v2.length / 300));
    // Exactly `limit` left: no next part.
    const last = await history(`session_id=${session.session_id}&limit=8&from_ts=${tsOf(NEWEST - 7 * 8)}`);
    expect(last.body!.predictions).toHaveLength(8);
    expect(last.body!.next_from_ts).toBeNull();
    expect(PREDICTIONS_LIMIT).toBeGreaterThanOrEqual(PREDICTIONS_WINDOW_BARS);
  });

  it("answers HEAD with the headers and no body", async () => {
    const response = await gw.app.inject({ method: "HEAD", url: `/predictions?session_id=${session.session_id}` });
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toMatch(/^application\/json/);
    expect(response.body).toBe("");
  });

  it.each([
    ["limit=0", /limit: must be at least 1/],
    [`limit=${PREDICTIONS_LIMIT + 1}`, new RegExp(`limit: must be at most ${PREDICTIONS_LIMIT}`)],
    ["limit=ten", /limit: must be a positive integer/],
    [`from_ts=${TEST_SERIES_START + 1}`, /from_ts: must be a bar open time/],
    ["from_ts=-15000", /from_ts: must be epoch milliseconds/],
    ["model_version=..%2Fv1%2F", /model_version: must be a file-name-safe version string/],
    ["symbol=btcusdt", /symbol/],
    ["cursor=abc", /cursor/],
  ])("refuses %s with 400 invalid_request", async (query, message) => {
    const { response } = await history(`session_id=${session.session_id}&${query}`);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ error: { code: "invalid_request", message: expect.stringMatching(message) } });
  });

  it("refuses a symbol this gateway does not serve with 400 unknown_symbol", async () => {
    const { response } = await history("symbol=SOLUSDT", bearer);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error: { code: "unknown_symbol" } });
  });

  it("asks for a session or a bearer, and checks them as /bootstrap does", async () => {
    const codeOf = async (query: string, headers: Record<string, string> = {}) => {
      const { response } = await history(query, headers);
      return [response.statusCode, (response.json() as { error: { code: string } }).error.code];
    };
    expect(await codeOf("")).toEqual([401, "missing_credentials"]);
    expect(await codeOf("", { authorization: "Basic abc" })).toEqual([401, "invalid_authorization"]);
    expect(await codeOf(`session_id=${"x".repeat(32)}`)).toEqual([404, "unknown_session"]);
    const stranger = { authorization: `Bearer ${await localToken("stranger")}` };
    expect(await codeOf(`session_id=${session.session_id}`, stranger)).toEqual([403, "not_your_session"]);
    const stopped = await startSession(gw.url, bearer.authorization!.slice("Bearer ".length));
    expect((await stopSession(gw.url, bearer.authorization!.slice("Bearer ".length), stopped.session_id)).status).toBe(200);
    expect(await codeOf(`session_id=${stopped.session_id}`)).toEqual([410, "session_stopped"]);
  });

  it("is rate limited per user with BOOTSTRAP_PER_MINUTE, counted apart from /bootstrap", async () => {
    const limited = await startGateway(env, { config: env.config({ LOCAL_JWT_SECRET: LOCAL_SECRET, BOOTSTRAP_PER_MINUTE: "2" }) });
    try {
      const headers = { authorization: `Bearer ${await localToken("hasty")}` };
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await limited.app.inject({ url: "/predictions?limit=1", headers })).statusCode);
      expect(statuses).toEqual([200, 200, 429]);
      expect((await limited.app.inject({ url: "/predictions?limit=1", headers })).json()).toMatchObject({ error: { code: "rate_limited" } });
      expect((await limited.app.inject({ url: "/bootstrap?limit=1", headers })).statusCode).toBe(200);
    } finally {
      await limited.close();
    }
  });

  it("answers 503 store_unavailable with Retry-After while the database is cut off, and recovers", async () => {
    const proxy = await startTcpProxy(testDatabaseAddress());
    const log = createLogger({ service: "gateway-test", level: "silent" });
    const store = await openPostgresStore({ url: testDatabaseUrlVia(proxy.port), prepare: true, schema: env.ns, log });
    const cutOff = await startGateway(env, { config: env.config({ LOCAL_JWT_SECRET: LOCAL_SECRET }), store });
    try {
      const headers = { authorization: `Bearer ${await localToken("cut-off")}` };
      proxy.sever();
      for (const query of ["", `model_version=v2&from_ts=${tsOf(NEWEST)}`]) {
        const response = await cutOff.app.inject({ url: `/predictions?${query}`, headers });
        expect(response.statusCode).toBe(503);
        expect(response.headers["retry-after"]).toBe("5");
        expect(response.json()).toMatchObject({ error: { code: "store_unavailable" } });
      }
      proxy.restore();
      const back = await cutOff.app.inject({ url: `/predictions?model_version=v2&from_ts=${tsOf(NEWEST)}`, headers });
      expect(back.json()).toEqual({ symbol: SYMBOL, model_version: "v2", predictions: points(v2.slice(-1)), next_from_ts: null });
    } finally {
      await cutOff.close();
      await store.close();
      await proxy.close();
    }
  });

  it("is described in the OpenAPI document: its parameters, its answer and the session's predictions_url", async () => {
    const openapi = (await (await fetch(`${gw.url}/openapi.json`)).json()) as {
      paths: Record<
        string,
        { get?: { description?: string; parameters?: { name: string }[]; responses: Record<string, unknown>; security?: unknown } }
      >;
    };
    const route = openapi.paths["/predictions"]!.get!;
    // session_id is described as the `session` security scheme, not as a parameter.
    expect(route.parameters!.map((p) => p.name).sort()).toEqual(["from_ts", "limit", "model_version", "symbol"]);
    expect(route.security).toEqual([{ bearer: [] }, { session: [] }]);
    expect(Object.keys(route.responses)).toEqual(expect.arrayContaining(["200", "400", "401", "429", "503"]));
    expect(JSON.stringify(route.responses["200"])).toMatch(/next_from_ts/);
    expect(route.description).toMatch(/model_version/);
    expect(JSON.stringify(openapi.paths["/session/start"])).toMatch(/predictions_url/);
  });
});
