/**
 * ml-runner's in-process trainer and its export.
 *
 * Training (services/ml-runner/src/model/train.ts): `trainMlp` with the default hyperparameters (hidden 16, batch
 * 256, 12 epochs, Adam) on 10k and 100k seeded synthetic rows of dimension 32, against a floor measured in the same
 * run: the bare per-row forward + backward arithmetic of the same network over the same rows and epochs (first
 * layer, ReLU, output, gradient accumulation), with no shuffle, no standardization, no loss and no Adam steps. The
 * ratio is what the rest of the trainer costs on top of the arithmetic any trainer of this network must do.
 *
 * Export (services/ml-runner/src/export.ts): 50k embeddings of dimension 25 (two symbols, 25k bars each) from
 * PostgreSQL, labelled from the bars and streamed as train.jsonl with its sha256 to a local object store, against
 * the store's bare read of the same rows (exportEmbeddings, iterated and dropped), interleaved.
 *
 * `npm run bench -- ml-train` (a few minutes; 2 noisy cores: medians of interleaved rounds).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BAR_MS, EMBEDDING_DIM, FEATURE_VERSION, trainingHyperparametersSchema } from "@gapfill/contracts";
import { createLogger, openLocalObjectStore, openPostgresStore, type EmbeddingInput } from "@gapfill/kit";
import { connectTestPostgres, dropTestSchema, median, seededWords, TEST_DATABASE_URL, TEST_SERIES_START, testBars, timeInterleaved, uniqueNamespace } from "@gapfill/testkit";
import { exportTrainingSet, labelledRows, trainMlp, type LabelledRows } from "../services/ml-runner/src/index.ts";
import { syntheticRows } from "../services/ml-runner/test/synthetic-rows.ts";

const DIM = 32;
const ROUNDS = 3;
const hp = trainingHyperparametersSchema.parse({});

function timed(work: () => unknown): number {
  const started = performance.now();
  work();
  return performance.now() - started;
}

/** The floor: forward and backward passes of every row, every epoch, into one gradient buffer. */
function bareForwardBackward(rows: LabelledRows, epochs: number): number {
  const { count, dimension: d, embeddings, labels } = rows;
  const h = hp.hidden;
  const x = Float64Array.from(embeddings);
  let state = 1;
  // Small weights of both signs, so about half the hidden units are active as after a real initialisation.
  const theta = Float64Array.from({ length: h * d + 2 * h + 1 }, () => ((state = (state * 48_271) % 2_147_483_647) / 2_147_483_647 - 0.5) * 0.02);
  const grad = new Float64Array(theta.length);
  const z1 = new Float64Array(h);
  const [b1At, w2At, b2At] = [h * d, h * d + h, h * d + 2 * h];
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (let row = 0; row < count; row++) {
      const xo = row * d;
      let logit = theta[b2At]!;
      for (let k = 0; k < h; k++) {
        let z = theta[b1At + k]!;
        for (let j = 0; j < d; j++) z += theta[k * d + j]! * x[xo + j]!;
        z1[k] = z;
        if (z > 0) logit += theta[w2At + k]! * z;
      }
      const dLogit = 1 / (1 + Math.exp(-logit)) - labels[row]!;
      grad[b2At]! += dLogit;
      for (let k = 0; k < h; k++) {
        if (z1[k]! <= 0) continue;
        grad[w2At + k]! += dLogit * z1[k]!;
        const dz = dLogit * theta[w2At + k]!;
        grad[b1At + k]! += dz;
        for (let j = 0; j < d; j++) grad[k * d + j]! += dz * x[xo + j]!;
      }
    }
  }
  return grad[0]!;
}

// One untimed pass of both first, so neither is measured before the JIT has optimized its loops.
const warmUp = labelledRows(syntheticRows({ seed: 2, count: 5_000, dimension: DIM }), DIM);
trainMlp(warmUp, hp);
bareForwardBackward(warmUp, hp.epochs);

for (const count of [10_000, 100_000]) {
  const rows = labelledRows(syntheticRows({ seed: 1, count, dimension: DIM }), DIM);
  const training: number[] = [];
  const floor: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    training.push(timed(() => trainMlp(rows, hp)));
    floor.push(timed(() => bareForwardBackward(rows, hp.epochs)));
  }
  const rowEpochs = count * hp.epochs;
  console.log(`${count} rows × ${DIM} dims, hidden ${hp.hidden}, ${hp.epochs} epochs, batch ${hp.batch_size}:`);
  console.log(`  trainMlp: median ${median(training).toFixed(0)} ms of ${ROUNDS} (${((rowEpochs / median(training)) * 1000 / 1e6).toFixed(2)} M row-epochs/s; ${(median(training) / hp.epochs).toFixed(0)} ms per epoch)`);
  console.log(`  floor (bare forward + backward, same rows and epochs): median ${median(floor).toFixed(0)} ms`);
  console.log(`  ratio trainMlp / floor: ${(median(training) / median(floor)).toFixed(2)}`);
}

// --- export: store → labelled train.jsonl in the object store, against the store's bare read of the same rows
const EXPORT_BARS = 25_000;
const EXPORT_ROUNDS = 5;
const log = createLogger({ service: "bench", level: "silent" });
const admin = connectTestPostgres();
const schema = uniqueNamespace("tbench");
const dir = await mkdtemp(join(tmpdir(), "gapfill-bench-export-"));
const store = await openPostgresStore({ url: TEST_DATABASE_URL, prepare: true, schema, log });
const objects = await openLocalObjectStore({ dir });
try {
  const word = seededWords(5);
  for (const [s, symbol] of ["BTCUSDT", "ETHUSDT"].entries()) {
    const bars = testBars(symbol, TEST_SERIES_START, EXPORT_BARS, s + 1);
    for (let i = 0; i < bars.length; i += 1000) {
      const batch = bars.slice(i, i + 1000);
      await store.upsertBars(batch);
      const embeddings: EmbeddingInput[] = batch.map((bar) => ({
        symbol,
        ts: bar.ts,
        embedding: Float32Array.from({ length: EMBEDDING_DIM }, () => word() / 2 ** 32 - 0.5),
        feature_version: FEATURE_VERSION,
        producer: "bench",
      }));
      await store.upsertEmbeddings(embeddings);
    }
  }
  const window = { from: TEST_SERIES_START, to: TEST_SERIES_START + EXPORT_BARS * BAR_MS };
  let exported = 0;
  let read = 0;
  const timings = await timeInterleaved(
    {
      export: async (run) => {
        const { manifest, unlabelled } = await exportTrainingSet(
          { store, objects },
          { prefix: `bench/${run}`, window, horizonMs: hp.horizon_ms, featureVersion: FEATURE_VERSION, dimension: EMBEDDING_DIM },
        );
        exported = manifest.rows + unlabelled;
      },
      bare: async () => {
        read = 0;
        for await (const row of store.exportEmbeddings({ fromTs: window.from - 1, toTs: window.to - 1, featureVersion: FEATURE_VERSION })) {
          if (row.embedding.length === EMBEDDING_DIM) read++;
        }
      },
    },
    { runs: EXPORT_ROUNDS, warmup: 1 },
  );
  if (exported !== read) throw new Error(`the export saw ${exported} rows, the bare read ${read}`);
  const rate = (ms: number) => ((read / ms) * 1000).toFixed(0);
  console.log(`export of ${read} embeddings × ${EMBEDDING_DIM} (Postgres → labelled train.jsonl + sha256 → local object store):`);
  console.log(`  export: median ${timings.export.p50.toFixed(0)} ms of ${EXPORT_ROUNDS} (${rate(timings.export.p50)} rows/s)`);
  console.log(`  floor (the store's bare read of the same rows): median ${timings.bare.p50.toFixed(0)} ms (${rate(timings.bare.p50)} rows/s)`);
  console.log(`  ratio export / bare read: ${(timings.export.p50 / timings.bare.p50).toFixed(2)}`);
} finally {
  await objects.close();
  await store.close();
  await dropTestSchema(admin, schema);
  await admin.end();
  await rm(dir, { recursive: true, force: true });
}
