import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  BAR_MS,
  barMsgId,
  gatewayConfigSchema,
  lastClosedBarTs,
  natsNames,
  predictionMsgId,
  type ClosedBar,
  type PredictionEvent,
  type SessionRecord,
} from "@gapfill/contracts";
import { connectNats, createLogger, loadConfig, openStore, type Store } from "@gapfill/kit";
import {
  connectTestPostgres,
  dropTestSchema,
  type PrivateNatsServer,
  provisionTestTopology,
  RawSseClient,
  startPrivateNatsServer,
  TEST_DATABASE_URL,
  testBars,
  uniqueNamespace,
  waitFor,
} from "@gapfill/testkit";
import { buildApp } from "../src/index.ts";
import type { FastifyInstance } from "fastify";
import type { AddressInfo } from "node:net";
import { LOCAL_SECRET, localToken, startSession } from "./support/session.ts";

const SYMBOL = "BTCUSDT";
const ns = uniqueNamespace();
const log = createLogger({ service: "gateway-test", level: "silent" });
const START = lastClosedBarTs(Date.now()) - 500 * BAR_MS;
const bars = testBars(SYMBOL, START, 200, 13);
let server: PrivateNatsServer;
let gatewayNc: NatsConnection;
let publisherNc: NatsConnection;
let store: Store;
let app: FastifyInstance;
let url: string;

/** Publishes, retrying while the server is away: the test's stand-in for the ingestor and ml-infer, which never give up. */
async function publishRetrying(subject: string, payload: object, msgID: string): Promise<void> {
  const js = jetstream(publisherNc);
  await waitFor(
    async () => {
      await js.publish(subject, JSON.stringify(payload), { msgID, timeout: 1000 });
      return true;
    },
    { what: `publishing ${msgID}`, timeoutMs: 30_000, intervalMs: 100 },
  );
}

async function publish(list: readonly ClosedBar[]): Promise<void> {
  for (const bar of list) await publishRetrying(natsNames(ns).subjects.bars(SYMBOL), bar, barMsgId(SYMBOL, bar.ts));
}

async function publishPrediction(bar: ClosedBar, probUp: number): Promise<PredictionEvent> {
  const prediction = { symbol: SYMBOL, ts: bar.ts, prob_up: probUp, model_version: "v1", scored_at: new Date().toISOString() };
  await publishRetrying(natsNames(ns).subjects.predictions(SYMBOL), prediction, predictionMsgId(SYMBOL, bar.ts, "v1"));
  return prediction;
}

beforeAll(async () => {
  server = await startPrivateNatsServer();
  gatewayNc = await connectNats({ url: server.url, name: "gateway", log });
  publisherNc = await connectNats({ url: server.url, name: "publisher", log });
  await provisionTestTopology(gatewayNc, ns);
  const config = loadConfig(gatewayConfigSchema, "gateway", {
    NATS_URL: server.url,
    NATS_NAMESPACE: ns,
    DATABASE_URL: TEST_DATABASE_URL,
    DATABASE_SCHEMA: ns,
    LOCAL_JWT_SECRET: LOCAL_SECRET,
    LOG_LEVEL: "silent",
  });
  store = await openStore(config, { log, access: "write" });
  await publish(bars.slice(0, 50));
  await store.upsertBars(bars.slice(0, 20));
  app = await buildApp({ config, log, nc: gatewayNc, store });
  await app.listen({ port: 0, host: "127.0.0.1" });
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await app?.close();
  await store?.close();
  await gatewayNc?.close();
  await publisherNc?.close();
  await server?.dispose();
  const sql = connectTestPostgres();
  await dropTestSchema(sql, ns);
  await sql.end();
});

describe("NATS server crash and restart", () => {
  it("keeps open streams going with every bar and prediction once, and sessions (start, stop, watch) working", async () => {
    const token = await localToken("restart");
    const session = await startSession(url, token);
    const client = await RawSseClient.open(`${session.stream_url}&predictions=1`);
    await waitFor(() => client.named("live").length === 1, { what: "live marker" });
    await publish(bars.slice(50, 60));
    const predictions = [await publishPrediction(bars[55]!, 0.25)];
    await waitFor(() => client.barTimes().at(-1) === bars[59]!.ts && client.named("prediction").length === 1, { what: "bars and a prediction before the crash" });

    await server.stop("SIGKILL");
    await server.restart();
    await publish(bars.slice(60, 80));
    predictions.push(await publishPrediction(bars[75]!, 0.75));
    await waitFor(() => client.barTimes().at(-1) === bars[79]!.ts && client.named("prediction").length === 2, {
      what: "bars and a prediction after the restart",
      timeoutMs: 30_000,
    });
    expect(client.closed).toBe(false);
    expect(client.barTimes()).toEqual(bars.slice(20, 80).map((b) => b.ts));
    expect(client.named("prediction").map((e) => JSON.parse(e.data) as PredictionEvent)).toEqual(predictions);

    // The session bucket and its watch survived too: a new session starts, and a stop closes its stream.
    const after = await startSession(url, token);
    const second = await RawSseClient.open(after.stream_url);
    await waitFor(() => second.named("live").length === 1, { what: "live marker after the restart" });
    expect(second.barTimes()).toEqual(bars.slice(20, 80).map((b) => b.ts));
    // Another replica stops the first session: it writes the stopped record; this replica learns it from its watch.
    const kv = await new Kvm(publisherNc).open(natsNames(ns).buckets.sessions);
    const record = (await kv.get(session.session_id))!.json<SessionRecord>();
    await kv.put(session.session_id, JSON.stringify({ ...record, stopped_at: Date.now() }));
    await waitFor(() => client.closed, { what: "the stopped session's stream to close" });
    expect(JSON.parse(client.named("end")[0]!.data)).toMatchObject({ reason: "stopped" });
    second.close();
  });
});
