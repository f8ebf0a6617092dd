/**
 * The whole ML loop on real processes, each started from its `src/main.ts` as `npm start` runs it: the Binance
 * simulator → ingestor → recorder + embedder → scheduler → ml-runner → ml-infer → gateway, with short intervals.
 * Predictions on the subjects, in ml_predictions, in ml-infer's log and as the gateway's SSE `prediction` events agree;
 * a stream gets the newest prediction when it starts, and bar ids and Last-Event-ID resumes are those of a stream
 * without predictions; a second model published mid-run is loaded without a restart; a model file whose bytes are
 * not the ones latest.json names is refused while the model in use serves on.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  BAR_MS,
  modelManifestSchema,
  objectStoreConfigSchema,
  storeConfigSchema,
  tickMsgId,
  tickWindowStart,
  type ClosedBar,
  type ModelManifest,
  type PredictionEvent,
  type SessionStartResponse,
  type TickEvent,
} from "@gapfill/contracts";
import { createLogger, loadConfig, openObjectStore, openStore, REPO_ROOT, type NatsConnection, type ObjectStore, type Store } from "@gapfill/kit";
import {
  connectTestNats,
  connectTestPostgres,
  deleteNamespaceStreams,
  dropTestSchema,
  freePort,
  killServiceProcess,
  provisionTestTopology,
  RawSseClient,
  readStreamPredictions,
  startServiceProcess,
  TEST_DATABASE_URL,
  TEST_NATS_URL,
  uniqueNamespace,
  waitFor,
  type ServiceProcess,
} from "@gapfill/testkit";
import { referenceScores } from "./support.ts";

const SYMBOL = "BTCUSDT";
const MAX_PER_TICK = 100;
/** The gateway's local-mode secret: the test asks it for a token (POST /dev/token), nothing is written to DATA_DIR. */
const LOCAL_JWT_SECRET = "loop-e2e-local-secret-0123456789abcdef";
const ns = uniqueNamespace();
const main = (service: string) => join(REPO_ROOT, "services", service, "src", "main.ts");
const processes: ServiceProcess[] = [];
let nc: NatsConnection;
let store: Store;
let objects: ObjectStore;
let objectDir: string;

const common = () => ({
  NATS_URL: TEST_NATS_URL,
  NATS_NAMESPACE: ns,
  BINANCE_SYMBOL: SYMBOL,
  DATABASE_URL: TEST_DATABASE_URL,
  DATABASE_SCHEMA: ns,
  OBJECT_STORE: "local",
  OBJECT_STORE_DIR: objectDir,
  LOG_LEVEL: "info",
});

function start(service: string, env: Record<string, string>): ServiceProcess {
  const p = startServiceProcess(main(service), { ...common(), ...env });
  processes.push(p);
  return p;
}

beforeAll(async () => {
  nc = await connectTestNats();
  await provisionTestTopology(nc, ns);
  objectDir = await mkdtemp(join(tmpdir(), "gapfill-loop-"));
  const log = createLogger({ service: "e2e", level: "silent" });
  store = await openStore(loadConfig(storeConfigSchema, "test", common()), { log, access: "read" });
  objects = await openObjectStore(loadConfig(objectStoreConfigSchema, "test", common()), { log });
});

afterAll(async () => {
  await Promise.all(processes.map((p) => killServiceProcess(p)));
  await store?.close();
  await objects?.close();
  await deleteNamespaceStreams(nc, ns);
  await nc?.close();
  const admin = connectTestPostgres();
  await dropTestSchema(admin, ns);
  await admin.end();
  await rm(objectDir, { recursive: true, force: true });
}, 60_000);

const latest = async (): Promise<ModelManifest> => modelManifestSchema.parse(JSON.parse((await objects.get("model/latest.json")).toString()));
const loggedPredictions = (p: ServiceProcess) =>
  p.logs.filter((line) => line.msg === "prediction").map(({ symbol, ts, prob_up, model_version, scored_at }) => ({ symbol, ts, prob_up, model_version, scored_at }) as PredictionEvent);
const key = (p: { symbol: string; ts: number; model_version: string }) => `${p.symbol}:${p.ts}:${p.model_version}`;
const ssePredictions = (client: RawSseClient) => client.named("prediction").map((e) => JSON.parse(e.data) as PredictionEvent);
const sseBars = (client: RawSseClient) => client.named("bar").map((e) => JSON.parse(e.data) as ClosedBar);

/** A session of the gateway at `url` (a local-mode token of its own) and its gap stream with predictions=1. */
async function openPredictionStream(url: string, headers: Record<string, string> = {}): Promise<RawSseClient> {
  const { access_token } = (await (await fetch(`${url}/dev/token`, { method: "POST" })).json()) as { access_token: string };
  const started = await fetch(`${url}/session/start`, { method: "POST", headers: { authorization: `Bearer ${access_token}` } });
  expect(started.status).toBe(201);
  const session = (await started.json()) as SessionStartResponse;
  const client = await RawSseClient.open(`${session.stream_url}&predictions=1`, headers);
  expect(client.status).toBe(200);
  return client;
}

/** Bars one after the other, each with its ts as the event id. */
function expectContiguousBars(client: RawSseClient): void {
  const events = client.named("bar");
  expect(events.length).toBeGreaterThan(0);
  events.forEach((event, i) => {
    const bar = JSON.parse(event.data) as ClosedBar;
    expect(event.id, `id of bar ${bar.ts}`).toBe(String(bar.ts));
    if (i > 0) expect(bar.ts - Number(events[i - 1]!.id)).toBe(BAR_MS);
  });
}

/** A sample's value from a Prometheus text page, or undefined. */
function sample(page: string, name: string, labels: Record<string, string>): number | undefined {
  const line = page
    .split("\n")
    .find((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([label, value]) => l.includes(`${label}="${value}"`)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

it("goes from simulated trades to predictions, hot-loads a second model and refuses a tampered one", { timeout: 300_000 }, async () => {
  const simPort = await freePort();
  const sim = start("binance-sim", { SIM_PORT: String(simPort), SIM_HISTORY_HOURS: "2.5", SIM_SEED: "7" });
  await sim.logged("binance-sim ready", {}, 60_000);
  const env = { INGESTOR_METRICS_PORT: "0", RECORDER_METRICS_PORT: "0", EMBEDDER_METRICS_PORT: "0", SCHEDULER_METRICS_PORT: "0", ML_RUNNER_METRICS_PORT: "0" };
  start("recorder", env);
  // One embedding per bar from 60-bar windows: two hours of backfill give several hundred rows in seconds. Two, not
  // one: the first retrain exports the two hours before the current hour began, which must hold ML_MIN_ROWS labelled
  // rows however late in the hour the test runs (with one hour, none after about half past).
  start("embedder", { ...env, EMBED_WINDOW_BARS: "60", EMBED_EVERY_BARS: "1" });
  start("ingestor", { ...env, BINANCE_REST_URL: `http://127.0.0.1:${simPort}`, BINANCE_WS_URL: `ws://127.0.0.1:${simPort}`, INGEST_BACKFILL_HOURS: "2" });
  await waitFor(async () => (await store.newestEmbeddings(SYMBOL, { limit: 200 })).length >= 150, {
    what: "the embeddings of the backfill",
    timeoutMs: 120_000,
    intervalMs: 500,
  });

  // The gateway, and a gap stream that asks for predictions before there is any: it must get every one published.
  const gatewayPort = await freePort();
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  start("gateway", { PORT: String(gatewayPort), HOST: "127.0.0.1", GATEWAY_METRICS_PORT: "0", LOCAL_JWT_SECRET });
  await waitFor(async () => (await fetch(`${gatewayUrl}/readyz`).catch(() => null))?.status === 200, { what: "the gateway", timeoutMs: 60_000 });
  const watcher = await openPredictionStream(gatewayUrl);
  await waitFor(() => watcher.named("live").length === 1, { what: "the watching stream live", timeoutMs: 30_000 });
  expect(watcher.named("prediction")).toEqual([]);

  // A retrain tick at start (for the current hour) and an infer tick every 5 s.
  start("scheduler", { ...env, ML_INTERVAL_SECONDS: "3600", INFER_INTERVAL_SECONDS: "5" });
  // Every candidate is promoted (tolerance 10), so a second run publishes a second model.
  const runner = start("ml-runner", { ...env, ML_MIN_ROWS: "50", ML_HORIZON_SECONDS: "60", TRAIN_WINDOW_HOURS: "2", ML_GATE_TOLERANCE: "10" });
  const infer = start("ml-infer", { ML_INFER_METRICS_PORT: "0", ML_INFER_MAX_PER_TICK: String(MAX_PER_TICK) });
  const metricsPort = (await infer.logged("ml-infer started", {}, 60_000)).metricsPort as number;

  const publishedModel = (after: string | null) =>
    waitFor(() => runner.logs.find((line) => String(line.msg).startsWith("published model ") && line.version !== after), {
      what: "a model published by ml-runner",
      timeoutMs: 120_000,
    });
  const v1 = String((await publishedModel(null)).version);
  await infer.logged(`model ${v1} loaded`, {}, 60_000);
  // Predictions of v1: the newest MAX_PER_TICK embeddings at once, then each new one at the next tick.
  await waitFor(async () => (await store.newestPrediction(SYMBOL, v1)) !== null, { what: `predictions of ${v1}`, timeoutMs: 30_000 });

  // A stream cut right after a prediction resumes after its last bar, as if there had been no prediction.
  const cut = await openPredictionStream(gatewayUrl);
  await waitFor(() => cut.named("live").length === 1 && cut.named("bar").length > 0 && cut.events.at(-1)!.event === "prediction", {
    what: "a prediction as the newest event of a live stream",
    timeoutMs: 60_000,
    intervalMs: 20,
  });
  cut.close();
  // Connected when predictions of v1 existed: its first event was the newest one then (from the subject's head).
  expect(cut.events[0]!.event).toBe("prediction");
  const lastBarId = cut.named("bar").at(-1)!.id!;
  const resumed = await openPredictionStream(gatewayUrl, { "last-event-id": lastBarId });
  await waitFor(() => resumed.named("bar").length > 0, { what: "a bar after the resume point", timeoutMs: 60_000 });
  expect(resumed.events[0]!.event).toBe("prediction");
  expect(sseBars(resumed)[0]!.ts).toBe(Number(lastBarId) + BAR_MS);
  resumed.close();
  for (const client of [cut, resumed]) {
    expectContiguousBars(client);
    for (const event of client.named("prediction")) expect(event.id).toBeUndefined();
  }

  // A second model, mid-run: a retrain tick for another window, as an operator would publish it.
  let windowStart = tickWindowStart(Date.now(), 15);
  // Not the scheduler's hourly window: that run is done.
  if (windowStart % 3_600_000 === 0) windowStart -= BAR_MS;
  const tick: TickEvent = { kind: "retrain", window_start: windowStart, interval_s: 15 };
  await jetstream(nc).publish(`${ns}.ml.tick.retrain`, JSON.stringify(tick), { msgID: tickMsgId(tick) });
  const v2 = String((await publishedModel(v1)).version);
  const loaded = await infer.logged(`model ${v2} loaded`, {}, 60_000);
  expect(loaded).toMatchObject({ previous: v1, trigger: "published" });
  await waitFor(async () => (await store.newestPrediction(SYMBOL, v2)) !== null, { what: `predictions of ${v2}`, timeoutMs: 30_000 });
  expect(infer.logs.filter((line) => line.msg === "ml-infer started")).toHaveLength(1);
  expect(infer.child.exitCode).toBeNull();

  // By hand: latest.json points back at v1, whose model.onnx now holds other bytes (v2's). No event: the next tick notices.
  const v2Manifest = await latest();
  const v1Manifest = modelManifestSchema.parse(JSON.parse((await objects.get(`model/${v1}/model.json`)).toString()));
  const onnxOf = new Map([[v1, await objects.get(v1Manifest.artifacts.onnx!)], [v2, await objects.get(v2Manifest.artifacts.onnx!)]]);
  await objects.put(v1Manifest.artifacts.onnx!, await objects.get(v2Manifest.artifacts.onnx!));
  await objects.put("model/latest.json", JSON.stringify(v1Manifest));
  const refused = await infer.logged(`model not loaded (sha256): model ${v1}: ${v1Manifest.artifacts.onnx} has sha256 ${v2Manifest.sha256.onnx}, its manifest says ${v1Manifest.sha256.onnx}; still serving ${v2}`, { reason: "sha256" }, 30_000);
  expect(String(refused.trigger)).toMatch(/^tick /);
  const page = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  expect(sample(page, "ml_infer_model_load_failures_total", { reason: "sha256" })).toBeGreaterThanOrEqual(1);
  expect(sample(page, "ml_infer_model_loaded", { version: v2 })).toBe(1);
  expect(sample(page, "ml_infer_model_loaded", { version: v1 })).toBeUndefined();
  expect(sample(page, "ml_infer_predictions_total", { symbol: SYMBOL })).toBeGreaterThan(0);
  expect(page).toMatch(/ml_infer_scoring_seconds_count\{[^}]*\} [1-9]/);

  // The old model serves on: a bar closed after the refusal is scored by v2.
  const refusedAt = Date.parse(String(refused.time));
  await waitFor(
    async () => {
      const newest = await store.newestPrediction(SYMBOL);
      return newest !== null && newest.ts + BAR_MS > refusedAt && newest;
    },
    { what: "a prediction of a bar closed after the refusal", timeoutMs: 60_000, intervalMs: 250 },
  ).then((newest) => expect(newest.model_version).toBe(v2));

  // Stopped cleanly, so every pass it began is published, stored and logged: the three agree, each prediction once.
  infer.child.kill("SIGTERM");
  expect((await infer.exited).code).toBe(0);
  const published = (await readStreamPredictions(nc, ns)).filter((p) => p.symbol === SYMBOL);
  expect(new Set(published.map(key)).size).toBe(published.length);
  expect(loggedPredictions(infer)).toEqual(published);
  const stored = new Map<string, number>();
  for (const version of [v1, v2]) {
    for (const row of await store.predictionsSince(SYMBOL, { modelVersion: version, after: 0, limit: 10_000 })) stored.set(key(row), row.prob_up);
  }
  expect([...stored.keys()].sort()).toEqual(published.map(key).sort());
  for (const prediction of published) expect(stored.get(key(prediction)), key(prediction)).toBe(prediction.prob_up);
  expect(new Set(published.map((p) => p.model_version))).toEqual(new Set([v1, v2]));

  // The stream open since before the first prediction got each one, in order, with the same bars as without them.
  await waitFor(() => watcher.named("prediction").length >= published.length, { what: "every prediction on the watching stream", timeoutMs: 30_000 });
  expect(ssePredictions(watcher)).toEqual(published);
  for (const event of watcher.named("prediction")) expect(event.id).toBeUndefined();
  expectContiguousBars(watcher);
  // A stream started now gets the newest prediction first: the last published, the table's newest.
  const late = await openPredictionStream(gatewayUrl);
  await waitFor(() => late.named("live").length === 1, { what: "the late stream live", timeoutMs: 30_000 });
  expect(late.events[0]!.event).toBe("prediction");
  const first = ssePredictions(late)[0]!;
  expect(first).toEqual(published.at(-1));
  expect(await store.newestPrediction(SYMBOL)).toEqual({ symbol: SYMBOL, ts: first.ts, model_version: first.model_version, prob_up: first.prob_up });
  watcher.close();
  late.close();

  // And they are what each model file, as published, gives for the stored embeddings.
  const embeddings = new Map((await store.newestEmbeddings(SYMBOL, { limit: 10_000 })).map((row) => [row.ts, row]));
  for (const [version, onnx] of onnxOf) {
    const scored = published.filter((p) => p.model_version === version);
    const reference = await referenceScores(onnx, scored.map((p) => embeddings.get(p.ts)!));
    for (const p of scored) expect(p.prob_up, key(p)).toBeCloseTo(reference.get(`${p.symbol}:${p.ts}`)!, 6);
  }
});
