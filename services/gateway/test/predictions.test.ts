/**
 * `GET /stream/gap?predictions=1`: the symbol's newest prediction when the stream starts, then each one published on
 * its subject, as `event: prediction` without an id, so bars and Last-Event-ID resumes are exactly as without it.
 * And `GET /symbols`, which the chart page's symbol picker reads.
 */
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventSource } from "eventsource";
import { jetstreamManager } from "@nats-io/jetstream";
import { BAR_MS, lastClosedBarTs, predictionMsgId, type ClosedBar, type PredictionEvent } from "@gapfill/contracts";
import { RawSseClient, testBars, waitFor } from "@gapfill/testkit";
import { createGatewayTestEnv, startGateway, SYMBOL, type GatewayTestEnv, type RunningGateway } from "./support/env.ts";
import { LOCAL_SECRET, localToken, startSession } from "./support/session.ts";

const OTHER = "ETHUSDT";
let env: GatewayTestEnv;
let gw: RunningGateway;
let token: string;
const START = lastClosedBarTs(Date.now()) - 500 * BAR_MS;
const history = testBars(SYMBOL, START, 400, 11);
let published = 0;

async function publishUpTo(count: number): Promise<void> {
  await env.publishBars(history.slice(published, count));
  published = count;
}

function prediction(ts: number, modelVersion: string, probUp: number, symbol = SYMBOL): PredictionEvent {
  return { symbol, ts, prob_up: probUp, model_version: modelVersion, scored_at: new Date(ts + 20_000).toISOString() };
}

async function publishPrediction(p: PredictionEvent | { symbol: string; junk: true }, msgId?: string): Promise<void> {
  const id = msgId ?? predictionMsgId(p.symbol, (p as PredictionEvent).ts, (p as PredictionEvent).model_version);
  await env.js.publish(env.names.subjects.predictions(p.symbol), JSON.stringify(p), { msgID: id });
}

/** Published before the gateway starts: v1 scores two bars, then v2 re-scores the first (the newest on the subject). */
const before = [prediction(history[40]!.ts, "v1", 0.25), prediction(history[44]!.ts, "v1", 0.5), prediction(history[40]!.ts, "v2", 0.75)];

beforeAll(async () => {
  env = await createGatewayTestEnv();
  await publishUpTo(100);
  await env.store.upsertBars(history.slice(0, 60));
  for (const p of before) await publishPrediction(p);
  const config = env.config({ LOCAL_JWT_SECRET: LOCAL_SECRET, BINANCE_SYMBOL: `${SYMBOL},${OTHER}` });
  gw = await startGateway(env, { config, listen: true, tuning: { heartbeatMs: 200, retryMs: 50 } });
  token = await localToken("alice");
});

afterAll(async () => {
  await gw?.close();
  await env?.cleanup();
});

const streamUrl = (sessionId: string, query = "") => `${gw.url}/stream/gap?session_id=${sessionId}${query}`;
const predictionsOf = (client: RawSseClient) => client.named("prediction").map((e) => JSON.parse(e.data) as PredictionEvent);
const barsOf = (client: RawSseClient) => client.named("bar").map((e) => JSON.parse(e.data) as ClosedBar);

describe("prediction events", () => {
  it("sends nothing at connect while the symbol has no prediction, then the first one as it is published", async () => {
    const session = await startSession(gw.url, token, { symbol: OTHER });
    const client = await RawSseClient.open(streamUrl(session.session_id, "&predictions=1"));
    await waitFor(() => client.named("live").length === 1, { what: "live" });
    expect(client.named("prediction")).toEqual([]);
    const first = prediction(history[50]!.ts, "v2", 0.125, OTHER);
    await publishPrediction(first);
    await waitFor(() => client.named("prediction").length === 1, { what: "the first prediction" });
    expect(predictionsOf(client)).toEqual([first]);
    client.close();
  });

  it("sends the newest prediction first, then each new one, without an id, and only to streams that asked", async () => {
    const session = await startSession(gw.url, token);
    const asked = await RawSseClient.open(streamUrl(session.session_id, "&predictions=1"));
    const plain = await RawSseClient.open(streamUrl(session.session_id));
    await waitFor(() => asked.named("live").length === 1 && plain.named("live").length === 1, { what: "both live" });
    // The newest on the subject is v2's re-score of an older bar: the last published, not the greatest ts.
    expect(asked.events[0]).toEqual({ event: "prediction", data: JSON.stringify(before[2]) });

    const later = [prediction(history[48]!.ts, "v2", 0.5625), prediction(history[52]!.ts, "v2", 1)];
    await publishPrediction(later[0]!);
    // Neither a payload that is not a prediction nor another symbol's prediction reaches the stream.
    await publishPrediction({ symbol: SYMBOL, junk: true }, "junk-1");
    await publishPrediction(prediction(history[52]!.ts, "v2", 0, OTHER));
    await publishUpTo(103);
    await publishPrediction(later[1]!);
    await waitFor(() => asked.named("prediction").length === 3 && asked.named("bar").length === 43, { what: "the new predictions and bars" });
    expect(predictionsOf(asked)).toEqual([before[2], ...later]);
    for (const event of asked.named("prediction")) expect(event.id).toBeUndefined();

    // Bars and their ids are those of the stream that did not ask.
    await waitFor(() => plain.named("bar").length === 43, { what: "the bars on the plain stream" });
    expect(plain.named("prediction")).toEqual([]);
    expect(barsOf(asked)).toEqual(history.slice(60, 103));
    expect(asked.named("bar")).toEqual(plain.named("bar"));
    asked.close();
    plain.close();
  });

  it("never moves the resume point: an EventSource cut right after a prediction resumes after its last bar", async () => {
    const session = await startSession(gw.url, token);
    const sockets = new Set<Socket>();
    const resumedFrom: (string | undefined)[] = [];
    const track = (req: IncomingMessage) => {
      if (!req.url?.includes(session.session_id)) return;
      resumedFrom.push(req.headers["last-event-id"] as string | undefined);
      sockets.add(req.socket);
      req.socket.once("close", () => sockets.delete(req.socket));
    };
    gw.app.server.on("request", track);
    const bars: ClosedBar[] = [];
    const predictions: PredictionEvent[] = [];
    let opens = 0;
    const es = new EventSource(streamUrl(session.session_id, "&predictions=1"));
    es.addEventListener("open", () => opens++);
    es.addEventListener("bar", (event) => bars.push(JSON.parse(event.data) as ClosedBar));
    es.addEventListener("prediction", (event) => predictions.push(JSON.parse(event.data) as PredictionEvent));
    try {
      for (let cut = 0; cut < 3; cut++) {
        await publishUpTo(published + 2);
        await waitFor(() => bars.at(-1)?.ts === history[published - 1]!.ts, { what: `bar ${published - 1}` });
        const p = prediction(history[published - 1]!.ts, "v3", cut / 4);
        await publishPrediction(p);
        await waitFor(() => predictions.at(-1)?.ts === p.ts && predictions.at(-1)?.model_version === "v3", { what: "the prediction" });
        // The last event before the cut is the prediction; the reconnect must still resume after the bar.
        const [opened, received] = [opens, predictions.length];
        for (const socket of sockets) socket.destroy();
        await waitFor(() => opens === opened + 1, { what: "the reconnect" });
        expect(resumedFrom.at(-1)).toBe(String(history[published - 1]!.ts));
        // And the reconnected stream starts with the newest prediction again.
        await waitFor(() => predictions.length === received + 1, { what: "the newest prediction again" });
        expect(predictions.at(-1)).toEqual(p);
      }
      await publishUpTo(published + 1);
      await waitFor(() => bars.at(-1)?.ts === history[published - 1]!.ts, { what: "a bar after the last reconnect" });
    } finally {
      es.close();
      gw.app.server.off("request", track);
    }
    const from = session.supabase_last_ts!;
    expect(bars).toEqual(history.filter((bar) => bar.ts > from && bar.ts <= history[published - 1]!.ts));
  });

  it("reads each symbol's predictions with one consumer however many streams ask, and deletes it on close", async () => {
    const jsm = await jetstreamManager(env.nc);
    const consumers = async () => (await jsm.consumers.list(env.names.streams.mlEvents).next()).length;
    const session = await startSession(gw.url, token);
    const clients = await Promise.all([1, 2, 3].map(() => RawSseClient.open(streamUrl(session.session_id, "&predictions=1"))));
    await waitFor(() => clients.every((c) => c.named("prediction").length === 1), { what: "the newest prediction on every stream" });
    expect(await consumers()).toBe(2);
    for (const client of clients) client.close();

    const second = await startGateway(env, { config: env.config({ LOCAL_JWT_SECRET: LOCAL_SECRET }) });
    expect(await consumers()).toBe(3);
    await second.close();
    expect(await consumers()).toBe(2);
  });
});

describe("symbols", () => {
  it("lists the configured symbols, and the OpenAPI document describes them and the prediction event", async () => {
    const response = await fetch(`${gw.url}/symbols`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ symbols: [SYMBOL, OTHER] });
    const openapi = (await (await fetch(`${gw.url}/openapi.json`)).json()) as {
      paths: Record<string, { get?: { description?: string; parameters?: { name: string }[] } }>;
    };
    expect(openapi.paths["/symbols"]?.get).toBeDefined();
    const gap = openapi.paths["/stream/gap"]!.get!;
    expect(gap.parameters!.map((p) => p.name)).toContain("predictions");
    expect(gap.description).toMatch(/`prediction` \(no id/);
  });
});
