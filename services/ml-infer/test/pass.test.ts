/**
 * One scoring pass on its own: an embedding the model gives no valid probability for is left out (with a warning)
 * and never holds the others back; a row of another length than the layout's is not scored.
 */
import { jetstream } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BAR_MS, EMBEDDING_DIM, FEATURE_VERSION, storeConfigSchema, type NatsNames } from "@gapfill/contracts";
import { createMetricsRegistry, loadConfig, loadScoringModel, openStore, type NatsConnection, type Store } from "@gapfill/kit";
import {
  capturingLogger,
  connectTestNats,
  connectTestPostgres,
  deleteNamespaceStreams,
  dropTestSchema,
  provisionTestTopology,
  readStreamPredictions,
  TEST_DATABASE_URL,
  TEST_SERIES_START,
  uniqueNamespace,
} from "@gapfill/testkit";
import { mlpToOnnx, type Mlp } from "@gapfill/ml-runner";
import { createInferMetrics, predictionPublisher, scorePass, scoringBatch } from "../src/index.ts";
import { seededEmbeddings } from "./support.ts";

const ns = uniqueNamespace();
let nc: NatsConnection;
let names: NatsNames;
let store: Store;

beforeAll(async () => {
  nc = await connectTestNats();
  names = await provisionTestTopology(nc, ns);
  store = await openStore(loadConfig(storeConfigSchema, "test", { DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: ns }), {
    log: capturingLogger().log,
    access: "write",
  });
});

afterAll(async () => {
  await store?.close();
  await deleteNamespaceStreams(nc, ns);
  await nc?.close();
  const admin = connectTestPostgres();
  await dropTestSchema(admin, ns);
  await admin.end();
});

/**
 * Two hidden units that both copy twice the first component, subtracted at the output: an ordinary embedding
 * scores sigmoid(0) = 0.5, and one whose first component is near the float32 maximum overflows both units to
 * infinity, so the output is NaN.
 */
function cancellingMlp(): Mlp {
  const w1 = new Float32Array(2 * EMBEDDING_DIM);
  w1[0] = 2;
  w1[EMBEDDING_DIM] = 2;
  return { dimension: EMBEDDING_DIM, hidden: 2, w1, b1: new Float32Array(2), w2: Float32Array.of(1, -1), b2: new Float32Array(1) };
}

describe("a scoring pass", () => {
  it("leaves out an embedding the model gives no valid probability for, and scores the others", async () => {
    const rows = seededEmbeddings("BTCUSDT", TEST_SERIES_START, 5);
    rows[2]!.embedding[0] = 3e38;
    await store.upsertEmbeddings(rows);
    const { log, lines } = capturingLogger();
    const registry = createMetricsRegistry("ml-infer-test");
    const scorer = await loadScoringModel(mlpToOnnx(cancellingMlp()), EMBEDDING_DIM);
    try {
      const result = await scorePass(
        { store, publish: predictionPublisher(jetstream(nc), names), log, metrics: createInferMetrics(registry) },
        { symbols: ["BTCUSDT"], maxPerSymbol: 10, featureVersion: FEATURE_VERSION, embeddingDim: EMBEDDING_DIM },
        { version: "cancel", onnxSha256: "", scorer },
      );
      expect(result).toEqual({ version: "cancel", scored: 4, published: 4, duplicates: 0 });
      const published = await readStreamPredictions(nc, ns);
      expect(published.map((p) => [p.ts, p.prob_up])).toEqual(rows.filter((_, i) => i !== 2).map((row) => [row.ts, 0.5]));
      expect(lines.find((line) => line.level === 40)).toMatchObject({
        msg: "the model's output for this embedding breaks the contract: not scored",
        symbol: "BTCUSDT",
        ts: rows[2]!.ts,
        version: "cancel",
        reason: "prob_up[0] is NaN: expected a finite number in [0, 1]",
      });
    } finally {
      await scorer.release();
    }
  });
});

describe("scoringBatch", () => {
  it("lays out the rows of the model's dimension in order and sets the others aside", () => {
    const rows = seededEmbeddings("ETHUSDT", TEST_SERIES_START, 3);
    const odd = { ...rows[1]!, embedding: rows[1]!.embedding.subarray(0, 7) };
    const batch = scoringBatch([rows[0]!, odd, rows[2]!], EMBEDDING_DIM);
    expect(batch.keys).toEqual([
      { symbol: "ETHUSDT", ts: TEST_SERIES_START },
      { symbol: "ETHUSDT", ts: TEST_SERIES_START + 2 * BAR_MS },
    ]);
    expect(Array.from(batch.matrix)).toEqual([...rows[0]!.embedding, ...rows[2]!.embedding]);
    expect(batch.skipped).toEqual([{ symbol: "ETHUSDT", ts: TEST_SERIES_START + BAR_MS, length: 7 }]);
  });
});
