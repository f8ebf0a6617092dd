import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BAR_MS, lastClosedBarTs, type ClosedBar } from "@gapfill/contracts";
import { testBars, waitFor } from "@gapfill/kit/testing";
import { createGatewayTestEnv, startGateway, SYMBOL, type GatewayTestEnv, type RunningGateway } from "./support/env.ts";
import { RawSseClient } from "./support/sse.ts";
import { LOCAL_SECRET, localToken, startSession } from "./support/session.ts";

let env: GatewayTestEnv;
let gw: RunningGateway;
/** 2,000 bars back from now: all in the past, so their store time is after their open time, as in production. */
const START = lastClosedBarTs(Date.now()) - 2000 * BAR_MS;
const history = testBars(SYMBOL, START, 1200, 7);

beforeAll(async () => {
  env = await createGatewayTestEnv();
  await env.publishBars(history.slice(0, 100));
  await env.store.upsertBars(history.slice(0, 60));
  gw = await startGateway(env, { config: env.config({ LOCAL_JWT_SECRET: LOCAL_SECRET }), listen: true, tuning: { heartbeatMs: 200 } });
});

afterAll(async () => {
  await gw?.close();
  await env?.cleanup();
});

function barsOf(client: RawSseClient): ClosedBar[] {
  return client.named("bar").map((e) => JSON.parse(e.data) as ClosedBar);
}

describe("gap stream", () => {
  it("replays every bar after supabase_last_ts, marks live, then sends live bars", async () => {
    const session = await startSession(gw.url, await localToken("alice"));
    expect(session.supabase_last_ts).toBe(history[59]!.ts);
    const client = await RawSseClient.open(session.stream_url.replace(/^http:\/\/[^/]+/, gw.url));
    expect(client.status).toBe(200);
    expect(client.headers["content-type"]).toMatch(/^text\/event-stream/);
    await waitFor(() => client.named("live").length === 1, { what: "live marker" });
    expect(client.retry).toBe(3000);
    expect(barsOf(client)).toEqual(history.slice(60, 100));
    const liveIndex = client.events.findIndex((e) => e.event === "live");
    expect(liveIndex).toBe(40);

    await env.publishBars(history.slice(100, 105));
    await waitFor(() => client.named("bar").length === 45, { what: "live bars" });
    expect(barsOf(client)).toEqual(history.slice(60, 105));
    expect(client.barTimes()).toEqual(history.slice(60, 105).map((b) => b.ts));
    await waitFor(() => client.comments > 0, { what: "a heartbeat comment" });
    client.close();
  });
});
