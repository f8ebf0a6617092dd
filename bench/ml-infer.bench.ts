/**
 * ml-infer's scoring and its tick-to-prediction latency.
 *
 * Scoring (services/ml-infer/src/batch.ts, kit's ScoringModel): the CPU part of a pass for batches of 1 and 1,000
 * embeddings — stored rows laid out as one float32 batch, scored through onnxruntime with the output contract
 * checked, turned into prediction events — against the floor of a bare `session.run` of the same model on a tensor
 * built beforehand, in the same process, interleaved. The model is the shape ml-runner trains (25 → 16 → 1).
 *
 * Tick → prediction published (services/ml-infer/src/inference.ts): an infer tick published to JetStream until the
 * prediction of the newest embedding arrives on `ml.predictions.<SYMBOL>`, one new embedding per tick, against a floor
 * of the same I/O done bare in sequence: the tick published and received, the pass's two store reads (cursor,
 * newest embeddings), one prediction published and received.
 *
 * `npm run bench -- ml-infer` (about a minute; medians and p99 of interleaved runs on 2 noisy cores).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { EMBEDDING_DIM, FEATURE_VERSION, MODEL_INPUT_NAME, storeConfigSchema, tickMsgId } from "@gapfill/contracts";
import { createLogger, createMetricsRegistry, loadConfig, loadScoringModel, openLocalObjectStore, openStore } from "@gapfill/kit";
import {
  connectTestNats,
  connectTestPostgres,
  deleteNamespaceStreams,
  dropTestSchema,
  provisionTestTopology,
  quantile,
  TEST_DATABASE_URL,
  TEST_SERIES_START,
  timeInterleaved,
  uniqueNamespace,
  type Timing,
} from "@gapfill/testkit";
import { mlpToOnnx } from "../services/ml-runner/src/index.ts";
import { createInferMetrics, createModelSlot, predictionEvents, predictionPublisher, scoringBatch, startInference } from "../services/ml-infer/src/index.ts";
import { MODEL_JSON, publishTestModel, seededEmbeddings, testMlp } from "../services/ml-infer/test/support.ts";

const HIDDEN = 16;
const ms = (value: number) => (value < 1 ? `${(value * 1000).toFixed(0)} µs` : `${value.toFixed(2)} ms`);
const line = (what: string, t: Timing) => `  ${what}: p50 ${ms(t.p50)}, p99 ${ms(t.p99)} (${t.runs} runs)`;

// --- scoring: ml-infer's batch → score → events against a bare session.run of the same model
const onnx = mlpToOnnx(testMlp(1, EMBEDDING_DIM, HIDDEN));
const scorer = await loadScoringModel(onnx, EMBEDDING_DIM);
// The options loadScoringModel uses, so the floor runs the same kernels on the same thread count.
const session = await InferenceSession.create(onnx, { executionProviders: ["cpu"], intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3 });
for (const [size, runs] of [[1, 3000], [1000, 500]] as const) {
  const rows = seededEmbeddings("BTCUSDT", TEST_SERIES_START, size, size);
  const tensor = new Tensor("float32", scoringBatch(rows, EMBEDDING_DIM).matrix, [size, EMBEDDING_DIM]);
  const scoredAt = new Date();
  const timings = await timeInterleaved(
    {
      mlInfer: async () => {
        const batch = scoringBatch(rows, EMBEDDING_DIM);
        const events = predictionEvents(batch.keys, await scorer.score(batch.matrix), "bench", scoredAt);
        if (events.length !== size) throw new Error(`${events.length} predictions for ${size} rows`);
      },
      bare: async () => {
        await session.run({ [MODEL_INPUT_NAME]: tensor });
      },
    },
    { runs, warmup: Math.min(200, runs) },
  );
  console.log(`scoring a batch of ${size} embedding${size === 1 ? "" : "s"} × ${EMBEDDING_DIM} (model ${EMBEDDING_DIM} → ${HIDDEN} → 1):`);
  console.log(line("ml-infer (batch layout, score with contract check, prediction events)", timings.mlInfer));
  console.log(line("floor (bare session.run on a ready tensor)", timings.bare));
  console.log(`  ratio ml-infer / floor: p50 ${(timings.mlInfer.p50 / timings.bare.p50).toFixed(2)}, p99 ${(timings.mlInfer.p99 / timings.bare.p99).toFixed(2)}`);
}
await scorer.release();
await session.release();

// --- tick → prediction published, against the same I/O done bare
const TICKS = 60;
const WARMUP = 5;
const SYMBOL = "BTCUSDT";
const ns = uniqueNamespace("tbench");
const log = createLogger({ service: "bench", level: "silent" });
const nc = await connectTestNats();
const names = await provisionTestTopology(nc, ns);
const js = jetstream(nc);
const admin = connectTestPostgres();
const dir = await mkdtemp(join(tmpdir(), "gapfill-bench-infer-"));
const store = await openStore(loadConfig(storeConfigSchema, "bench", { DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: ns }), { log, access: "write" });
const objects = await openLocalObjectStore({ dir, namespace: ns });
const metrics = createInferMetrics(createMetricsRegistry("bench"));
const slot = createModelSlot({ objects, modelJsonKey: MODEL_JSON, embeddingDim: EMBEDDING_DIM, log, metrics });
try {
  const rows = seededEmbeddings(SYMBOL, TEST_SERIES_START, 2 * TICKS + 1, 9);
  await store.upsertEmbeddings(rows.slice(0, 1));
  await publishTestModel(objects, "bench", { seed: 1 });
  const inference = await startInference({
    nc,
    names,
    slot,
    pass: { store, publish: predictionPublisher(js, names), log, metrics },
    settings: { symbols: [SYMBOL], maxPerSymbol: 1440, featureVersion: FEATURE_VERSION, embeddingDim: EMBEDDING_DIM },
    log,
    metrics,
    ackWaitMs: 30_000,
  });

  /** Resolves when a message whose data holds `"ts":<ts>` arrives on `subject` (a core subscription, set up first). */
  const arrival = (subject: string, ts: number) => {
    const sub = nc.subscribe(subject);
    return (async () => {
      for await (const msg of sub) {
        if (msg.string().includes(`"ts":${ts}`)) {
          sub.unsubscribe();
          return;
        }
      }
    })();
  };
  let next = 1;
  let window = 0;
  /** Each case writes its embedding and subscribes first, then times only what follows. */
  const cases = {
    tickToPrediction: async () => {
      const row = rows[next++]!;
      await store.upsertEmbeddings([row]);
      const arrived = arrival(names.subjects.predictions(SYMBOL), row.ts);
      window += 1;
      const tick = { kind: "infer", window_start: window * 1000, interval_s: 1 } as const;
      const started = performance.now();
      await js.publish(names.subjects.tick("infer"), JSON.stringify(tick), { msgID: tickMsgId(tick) });
      await arrived;
      return performance.now() - started;
    },
    bare: async () => {
      const row = rows[next++]!;
      await store.upsertEmbeddings([row]);
      // Other subjects of the same stream, so ml-infer's consumer never sees these.
      const tickArrived = arrival(names.subjects.runEvent("started"), row.ts);
      const started = performance.now();
      await js.publish(names.subjects.runEvent("started"), JSON.stringify({ ts: row.ts }));
      await tickArrived;
      await store.newestPrediction(SYMBOL, "bench");
      await store.newestEmbeddings(SYMBOL, { limit: 1440, featureVersion: FEATURE_VERSION, after: row.ts - 1 });
      const predictionArrived = arrival(names.subjects.runEvent("finished"), row.ts);
      await js.publish(names.subjects.runEvent("finished"), JSON.stringify({ ts: row.ts }));
      await predictionArrived;
      return performance.now() - started;
    },
  };
  const samples: Record<keyof typeof cases, number[]> = { tickToPrediction: [], bare: [] };
  for (let round = 0; round < TICKS; round++) {
    for (const name of ["tickToPrediction", "bare"] as const) {
      const elapsed = await cases[name]();
      if (round >= WARMUP) samples[name].push(elapsed);
    }
  }
  await inference.stop();
  const timing = (values: number[]): Timing => ({ runs: values.length, p50: quantile(values, 0.5), p99: quantile(values, 0.99), min: Math.min(...values) });
  const [mlInfer, bare] = [timing(samples.tickToPrediction), timing(samples.bare)];
  console.log(`infer tick → prediction published (Postgres store, local object store, one new embedding per tick):`);
  console.log(line("ml-infer (tick published → prediction received)", mlInfer));
  console.log(line("floor (tick round trip, the two store reads, one publish round trip, done bare)", bare));
  console.log(`  ratio ml-infer / floor: p50 ${(mlInfer.p50 / bare.p50).toFixed(2)}, p99 ${(mlInfer.p99 / bare.p99).toFixed(2)}`);
} finally {
  await slot.release();
  await objects.close();
  await store.close();
  await deleteNamespaceStreams(nc, ns);
  await nc.close();
  await dropTestSchema(admin, ns);
  await admin.end();
  await rm(dir, { recursive: true, force: true });
}
