import { jetstreamManager } from "@nats-io/jetstream";
import { afterEach, describe, expect, it } from "vitest";
import {
  BAR_MS,
  EMBEDDING_DIM,
  FEATURE_VERSION,
  flatBar,
  modelManifestSchema,
  modelMetricsSchema,
  runIdOf,
  TRAINING_MANIFEST_FILE,
  TRAINING_ROWS_FILE,
  trainingRowSchema,
  trainingSetManifestSchema,
} from "@gapfill/contracts";
import { loadScoringModel, sha256Hex, type EmbeddingInput } from "@gapfill/kit";
import { metricValue, seededWords, TEST_SERIES_START, waitFor } from "@gapfill/testkit";
import { localTrainer, readRunRecord, RUNNER_DURABLE, type Trainer } from "../src/index.ts";
import { createRunnerWorld, expectedLabels, seededMarket, type RunnerWorld } from "./support.ts";

const BARS = 1500;
/** Right after the last seeded bar: 2024-01-01T06:15:00Z, a whole minute. */
const WINDOW_START = TEST_SERIES_START + BARS * BAR_MS;
const WINDOW_HOURS = 6.25;
const MINUTE = 60_000;

let world: RunnerWorld | undefined;
afterEach(async () => {
  await world?.cleanup();
  world = undefined;
});

async function seededWorld(env: Record<string, string> = {}) {
  const created = await createRunnerWorld({ env: { TRAIN_WINDOW_HOURS: String(WINDOW_HOURS), ...env } });
  world = created;
  const market = seededMarket(TEST_SERIES_START, BARS);
  await created.store.upsertBars(market.bars);
  await created.store.upsertEmbeddings(market.embeddings);
  return { world: created, market };
}

const json = async (w: RunnerWorld, key: string) => JSON.parse((await w.objects.get(key)).toString("utf8")) as unknown;

/** The tick's consumer has nothing delivered and unacknowledged, and nothing left to deliver. */
async function consumerSettled(w: RunnerWorld) {
  const jsm = await jetstreamManager(w.nc);
  await waitFor(
    async () => {
      const info = await jsm.consumers.info(w.names.streams.mlTicks, RUNNER_DURABLE);
      return info.num_ack_pending === 0 && info.num_pending === 0 && info.num_redelivered === 0;
    },
    { what: "the retrain consumer to settle" },
  );
}

/** A trainer that fails when `failing()` says so, and trains in-process otherwise. */
function flakyTrainer(failing: () => boolean): Trainer & { calls: number } {
  const local = localTrainer();
  const trainer = {
    kind: "local" as const,
    calls: 0,
    train: (request: Parameters<Trainer["train"]>[0]) => {
      trainer.calls++;
      return failing() ? Promise.reject(new Error(`injected training failure ${trainer.calls}`)) : local.train(request);
    },
  };
  return trainer;
}

describe("ml-runner with the in-process trainer", () => {
  it("turns a retrain tick into an export, a model, a gate decision and latest.json, announced in that order", async () => {
    const { world, market } = await seededWorld();
    const runner = await world.startRunner();
    const tick = await world.publishTick(WINDOW_START);
    const runId = runIdOf(tick);
    const finished = await world.waitForEvent("run.finished");
    expect(finished.data).toMatchObject({ run_id: runId, outcome: "promoted", version: runId });
    expect(world.events.map((event) => event.kind)).toEqual(["run.started", "model.published", "run.finished"]);

    // The export: every embedding of the window with a bar a horizon later, labelled from the bars, in (ts, symbol) order.
    const prefix = `train/${runId}`;
    const from = WINDOW_START - WINDOW_HOURS * 3_600_000;
    const manifest = trainingSetManifestSchema.parse(await json(world, `${prefix}/${TRAINING_MANIFEST_FILE}`));
    const jsonl = await world.objects.get(`${prefix}/${TRAINING_ROWS_FILE}`);
    expect(manifest.sha256[TRAINING_ROWS_FILE]).toBe(sha256Hex(jsonl));
    const rows = jsonl.toString("utf8").trimEnd().split("\n").map((line) => trainingRowSchema(EMBEDDING_DIM).parse(JSON.parse(line)));
    const expected = expectedLabels(market.bars, market.embeddings, from, WINDOW_START);
    expect(new Map(rows.map((row) => [`${row.symbol}:${row.ts}`, row.label]))).toEqual(expected);
    expect(rows.map((row) => [row.ts, row.symbol])).toEqual(rows.map((row) => [row.ts, row.symbol]).sort((a, b) => (a[0] as number) - (b[0] as number) || String(a[1]).localeCompare(String(b[1]))));
    const stored = new Map(market.embeddings.map((row) => [`${row.symbol}:${row.ts}`, Array.from(row.embedding)]));
    expect(rows.every((row) => JSON.stringify(row.embedding) === JSON.stringify(stored.get(`${row.symbol}:${row.ts}`)))).toBe(true);
    const positives = [...expected.values()].filter((label) => label === 1).length;
    expect(manifest).toEqual({
      rows: expected.size,
      positives,
      window: { from, to: WINDOW_START },
      feature_version: FEATURE_VERSION,
      dimension: EMBEDDING_DIM,
      label_horizon_ms: 900_000,
      sha256: { [TRAINING_ROWS_FILE]: sha256Hex(jsonl) },
    });
    expect(finished.data).toMatchObject({ rows: expected.size, positives });

    // latest.json names the version's files by key and sha256; the model runs in onnxruntime and learned the signal.
    const latest = modelManifestSchema.parse(await json(world, "model/latest.json"));
    expect(latest).toMatchObject({
      version: runId,
      artifacts: { onnx: `model/${runId}/model.onnx`, metrics: `model/${runId}/metrics.json` },
      input: { name: "embedding", dims: [-1, EMBEDDING_DIM] },
      output: { name: "prob_up", dims: [-1, 1] },
      trainer: { kind: "local", job_name: null, instance_type: null },
    });
    for (const [role, key] of Object.entries(latest.artifacts)) expect(sha256Hex(await world.objects.get(key)), role).toBe(latest.sha256[role]);
    const metrics = modelMetricsSchema.parse(await json(world, latest.artifacts.metrics!));
    expect(metrics.gate).toMatchObject({ promote: true, current: null, current_version: null });
    expect(metrics.gate.candidate!.log_loss).toBeLessThan(metrics.gate.candidate!.no_skill_log_loss);
    expect(latest.metrics.log_loss).toBe(metrics.gate.candidate!.log_loss);
    const scorer = await loadScoringModel(await world.objects.get(latest.artifacts.onnx!), EMBEDDING_DIM);
    const probabilities = await scorer.score(rows.slice(0, 50).map((row) => row.embedding));
    await scorer.release();
    expect(probabilities.every((p) => p >= 0 && p <= 1)).toBe(true);

    const record = await readRunRecord(world.objects, prefix);
    expect(record).toMatchObject({ state: "finished", delivery: 1, outcome: { outcome: "promoted" }, train: { trainer: "local", metrics: { train_rows: metrics.train_rows } } });
    expect(Object.keys(finished.data.timings_ms as object).sort()).toEqual(["evaluate", "export", "publish", "train"]);
    expect(await metricValue(runner.registry, "ml_runner_runs_total", { outcome: "promoted" })).toBe(1);
    expect(await metricValue(runner.registry, "ml_runner_rows_exported_total")).toBe(expected.size);
    expect(await metricValue(runner.registry, "ml_runner_step_seconds_count", { step: "publish" })).toBe(1);
    await consumerSettled(world);
  });

  it("runs a tick once: a failed attempt resumes at its step on the next delivery, a repeated tick is acknowledged from the record", async () => {
    const { world } = await seededWorld();
    const trainer = flakyTrainer(() => trainer.calls === 1);
    const runner = await world.startRunner({ trainer });
    const tick = await world.publishTick(WINDOW_START);
    const runId = runIdOf(tick);
    await world.waitForEvent("run.finished");
    expect(world.eventsOf("run.failed").map((event) => event.data)).toEqual([
      expect.objectContaining({ run_id: runId, step: "train", delivery: 1, final: false, reason: "injected training failure 1" }),
    ]);
    expect(world.eventsOf("run.started").map((event) => [event.data.delivery, event.data.resumed_at])).toEqual([
      [1, null],
      [2, "train"],
    ]);
    // The export ran once, on the first delivery.
    expect(await metricValue(runner.registry, "ml_runner_step_seconds_count", { step: "export" })).toBe(1);
    expect(await metricValue(runner.registry, "ml_runner_attempt_failures_total", { step: "train" })).toBe(1);
    await consumerSettled(world);

    // The same window again, as a second scheduler past the duplicate window would publish it.
    const recordBefore = await world.objects.get(`train/${runId}/run.json`);
    await world.publishTick(WINDOW_START, 60, `again:${runId}`);
    await waitFor(() => runner.logs.some((line) => String(line.msg).startsWith("run finished before")), { what: "the repeated tick to be acknowledged" });
    await consumerSettled(world);
    expect(world.eventsOf("run.started")).toHaveLength(2);
    expect(world.eventsOf("model.published")).toHaveLength(1);
    expect(world.eventsOf("run.finished")).toHaveLength(1);
    expect((await world.objects.get(`train/${runId}/run.json`)).equals(recordBefore)).toBe(true);
    expect(trainer.calls).toBe(2);
  });

  it("with two runners on one namespace, runs every tick once and one at a time, each gated against the model before it", async () => {
    const { world } = await seededWorld();
    await Promise.all([world.startRunner(), world.startRunner()]);
    const ticks = [];
    for (const offset of [0, 1, 2]) ticks.push(await world.publishTick(WINDOW_START + offset * MINUTE));
    await waitFor(() => world.eventsOf("run.finished").length === 3, { what: "three finished runs", timeoutMs: 90_000 });
    const runIds = ticks.map(runIdOf);
    expect(world.eventsOf("run.started").map((event) => event.data.run_id)).toEqual(runIds);
    // No run starts before the one before it has finished.
    const runEvents = world.events.filter((event) => event.kind === "run.started" || event.kind === "run.finished").map((event) => event.kind);
    expect(runEvents).toEqual(["run.started", "run.finished", "run.started", "run.finished", "run.started", "run.finished"]);
    let published: string | null = null;
    for (const finished of world.eventsOf("run.finished")) {
      const gate = finished.data.gate as { current_version: string | null };
      expect(gate.current_version).toBe(published);
      if (finished.data.outcome === "promoted") published = finished.data.run_id as string;
    }
    await consumerSettled(world);
  });

  it("skips a run with too little data, or labels of one class only, with a log line and an event, and acknowledges its tick", async () => {
    const { world } = await seededWorld({ ML_MIN_ROWS: "5000" });
    const runner = await world.startRunner();
    const tick = await world.publishTick(WINDOW_START);
    const skipped = await world.waitForEvent("run.finished");
    expect(skipped.data).toMatchObject({ run_id: runIdOf(tick), outcome: "skipped", version: null, gate: null });
    expect(skipped.data.reason).toMatch(/^too little data: \d+ labelled rows in the window, fewer than ML_MIN_ROWS=5000$/);
    expect(runner.logs.find((line) => String(line.msg).startsWith("run skipped, too little data"))).toMatchObject({ level: 40, run: runIdOf(tick) });
    await expect(world.objects.head("model/latest.json")).rejects.toThrow(/no object model\/latest.json/);
    await consumerSettled(world);

    // A day later: prices that never move label every row 0.
    const dayLater = WINDOW_START + 24 * 3_600_000;
    const flat = Array.from({ length: 400 }, (_, i) => flatBar("BTCUSDT", dayLater - 400 * BAR_MS + i * BAR_MS, 100));
    const word = seededWords(3);
    const embeddings: EmbeddingInput[] = flat.map((bar) => ({
      symbol: bar.symbol,
      ts: bar.ts,
      embedding: Float32Array.from({ length: EMBEDDING_DIM }, () => word() / 2 ** 32),
      feature_version: FEATURE_VERSION,
      producer: "test",
    }));
    await world.store.upsertBars(flat);
    await world.store.upsertEmbeddings(embeddings);
    await runner.stop();
    await world.startRunner({ env: { ML_MIN_ROWS: "10" } });
    await world.publishTick(dayLater);
    const oneClass = await world.waitForEvent("run.finished", (data) => data.run_id === runIdOf({ kind: "retrain", window_start: dayLater }));
    expect(oneClass.data).toMatchObject({ outcome: "skipped", positives: 0 });
    expect(oneClass.data.reason).toMatch(/one class only \(0 up\)/);
    expect(world.eventsOf("run.failed")).toEqual([]);
  });

  it("does not promote a model trained on shuffled labels over a real one, and leaves latest.json byte-identical", async () => {
    const { world } = await seededWorld();
    let shuffle = false;
    const local = localTrainer();
    const shuffling: Trainer = {
      kind: "local",
      train: (request) => {
        if (!shuffle) return local.train(request);
        const word = seededWords(11);
        const labels = Uint8Array.from(request.rows.labels);
        for (let i = labels.length - 1; i > 0; i--) {
          const k = word() % (i + 1);
          [labels[i], labels[k]] = [labels[k]!, labels[i]!];
        }
        return local.train({ ...request, rows: { ...request.rows, labels } });
      },
    };
    await world.startRunner({ trainer: shuffling });
    const real = await world.publishTick(WINDOW_START);
    await world.waitForEvent("run.finished", (data) => data.run_id === runIdOf(real) && data.outcome === "promoted");
    const latestBefore = await world.objects.get("model/latest.json");

    shuffle = true;
    const shuffled = await world.publishTick(WINDOW_START + MINUTE);
    const rejected = await world.waitForEvent("run.finished", (data) => data.run_id === runIdOf(shuffled));
    expect(rejected.data).toMatchObject({ outcome: "rejected", version: null });
    expect(rejected.data.reason).toMatch(/: worse$/);
    const gate = modelMetricsSchema.parse(await json(world, `train/${runIdOf(shuffled)}/metrics.json`)).gate;
    expect(gate).toMatchObject({ promote: false, current_version: runIdOf(real) });
    expect(gate.candidate!.log_loss).toBeGreaterThan(gate.current!.log_loss);
    expect(gate.candidate!.auc!).toBeLessThan(gate.current!.auc!);
    expect((await world.objects.get("model/latest.json")).equals(latestBefore)).toBe(true);
    expect(world.eventsOf("model.published")).toHaveLength(1);
    await expect(world.objects.head(`model/${runIdOf(shuffled)}/model.onnx`)).rejects.toThrow(/no object/);
  });

  it("gives up after ML_MAX_DELIVERIES failed attempts, and on the delivery after a last attempt that never ended", async () => {
    const { world } = await seededWorld({ ML_MAX_DELIVERIES: "2" });
    const failing = await world.startRunner({ trainer: flakyTrainer(() => true) });
    const tick = await world.publishTick(WINDOW_START);
    const runId = runIdOf(tick);
    await world.waitForEvent("run.failed", (data) => data.final === true);
    expect(world.eventsOf("run.failed").map((event) => [event.data.delivery, event.data.final, event.data.step])).toEqual([
      [1, false, "train"],
      [2, true, "train"],
    ]);
    expect(await readRunRecord(world.objects, `train/${runId}`)).toMatchObject({ state: "failed", failure: { step: "train", delivery: 2 } });
    expect(world.eventsOf("run.finished")).toEqual([]);
    await consumerSettled(world);
    await failing.stop();

    // One delivery allowed; the runner holding it stops mid-training (as a killed one would never answer).
    const hanging: Trainer = {
      kind: "local",
      train: ({ signal }) =>
        new Promise((_, reject) => {
          if (signal.aborted) reject(signal.reason as Error);
          else signal.addEventListener("abort", () => reject(signal.reason as Error));
        }),
    };
    const first = await world.startRunner({ env: { ML_MAX_DELIVERIES: "1" }, trainer: hanging });
    const stalled = await world.publishTick(WINDOW_START + MINUTE);
    await world.waitForEvent("run.started", (data) => data.run_id === runIdOf(stalled));
    await first.stop();
    await world.startRunner({ env: { ML_MAX_DELIVERIES: "1" } });
    const gaveUp = await world.waitForEvent("run.failed", (data) => data.run_id === runIdOf(stalled));
    expect(gaveUp.data).toMatchObject({ step: "deliveries", delivery: 2, final: true });
    expect(await readRunRecord(world.objects, `train/${runIdOf(stalled)}`)).toMatchObject({ state: "failed", failure: { step: "deliveries" } });
  });
});
