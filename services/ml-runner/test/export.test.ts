import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BAR_MS, EMBEDDING_DIM, FEATURE_VERSION, TRAINING_ROWS_FILE } from "@gapfill/contracts";
import { openEmbeddedStore, sha256Hex, type EmbeddingInput, type Store } from "@gapfill/kit";
import { capturingLogger, TEST_SERIES_START, testBars } from "@gapfill/testkit";
import { exportTrainingSet, readTrainingSet } from "../src/index.ts";
import { createRunnerWorld, expectedLabels, HORIZON_MS, type RunnerWorld } from "./support.ts";

/** More bars than one page of the closes read, so the label join walks several keyset pages. */
const BARS = 10_500;
const SYMBOLS = ["BTCUSDT", "ETHUSDT"];
const FROM = TEST_SERIES_START + 200 * BAR_MS;
const TO = TEST_SERIES_START + (BARS - 20) * BAR_MS;

let world: RunnerWorld;
let embedded: Store;
let dataDir: string;
const bars = SYMBOLS.flatMap((symbol, i) => testBars(symbol, TEST_SERIES_START, BARS, i + 5));
// Every 4th bar gets an embedding, plus rows of another layout that the export must leave out.
const embeddings: EmbeddingInput[] = bars
  .filter((bar) => (bar.ts / BAR_MS) % 4 === 3)
  .map((bar, i) => ({
    symbol: bar.symbol,
    ts: bar.ts,
    embedding: Float32Array.from({ length: EMBEDDING_DIM }, (_, k) => Math.fround(Math.sin(i * 31 + k) * 10 ** ((k % 7) - 3))),
    feature_version: FEATURE_VERSION,
    producer: "test",
  }));
const otherLayout: EmbeddingInput[] = bars
  .filter((bar) => (bar.ts / BAR_MS) % 4 === 1)
  .slice(0, 50)
  .map((bar) => ({ symbol: bar.symbol, ts: bar.ts, embedding: [1, 2, 3], feature_version: "other.v1", producer: "test" }));

beforeAll(async () => {
  world = await createRunnerWorld();
  dataDir = await mkdtemp(join(tmpdir(), "gapfill-export-"));
  embedded = await openEmbeddedStore({ dataDir, namespace: world.ns, log: capturingLogger().log });
  for (const store of [world.store, embedded]) {
    await store.upsertBars(bars);
    await store.upsertEmbeddings([...embeddings, ...otherLayout]);
  }
}, 120_000);
afterAll(async () => {
  await embedded.close();
  await world.cleanup();
  await rm(dataDir, { recursive: true, force: true });
});

const spec = (prefix: string, pageSize?: number) => ({
  prefix,
  window: { from: FROM, to: TO },
  horizonMs: HORIZON_MS,
  featureVersion: FEATURE_VERSION,
  dimension: EMBEDDING_DIM,
  ...(pageSize ? { pageSize } : {}),
});

describe("the training set export", () => {
  it("labels each embedding of the window from the bars a horizon later, the same bytes on Postgres and SQLite and at any page size", async () => {
    const postgres = await exportTrainingSet({ store: world.store, objects: world.objects }, spec("pg"));
    const sqlite = await exportTrainingSet({ store: embedded, objects: world.objects }, spec("sqlite"));
    const paged = await exportTrainingSet({ store: world.store, objects: world.objects }, spec("paged", 7));
    const expected = expectedLabels(bars, embeddings, FROM, TO);
    expect(postgres.manifest.rows).toBe(expected.size);
    expect(postgres.manifest.positives).toBe([...expected.values()].filter((label) => label === 1).length);
    // Rows within a horizon of the window's end have no later bar in the table yet.
    expect(postgres.unlabelled).toBe(embeddings.filter((row) => row.ts >= FROM && row.ts < TO).length - expected.size);
    expect(postgres.unlabelled).toBeGreaterThan(0);
    const bytes = await world.objects.get(`pg/${TRAINING_ROWS_FILE}`);
    expect(sha256Hex(bytes)).toBe(postgres.manifest.sha256[TRAINING_ROWS_FILE]);
    expect(bytes.length).toBe(postgres.bytes);
    expect((await world.objects.get(`sqlite/${TRAINING_ROWS_FILE}`)).equals(bytes)).toBe(true);
    expect((await world.objects.get(`paged/${TRAINING_ROWS_FILE}`)).equals(bytes)).toBe(true);
    expect(sqlite.manifest).toEqual(postgres.manifest);
    expect(paged.manifest).toEqual(postgres.manifest);

    // Read back: the columns hold exactly the stored float32 values and the oracle's labels, oldest first.
    const { rows } = await readTrainingSet(world.objects, "pg");
    const stored = new Map(embeddings.map((row) => [`${row.symbol}:${row.ts}`, row]));
    const keys = [...expected.keys()].sort((a, b) => Number(a.split(":")[1]) - Number(b.split(":")[1]) || a.localeCompare(b));
    keys.forEach((key, i) => {
      expect(rows.ts[i]).toBe(stored.get(key)!.ts);
      expect(rows.labels[i]).toBe(expected.get(key));
      expect(Array.from(rows.embeddings.subarray(i * EMBEDDING_DIM, (i + 1) * EMBEDDING_DIM))).toEqual(Array.from(stored.get(key)!.embedding));
    });
  }, 60_000);

  it("refuses to read back rows that are not what the manifest states", async () => {
    await exportTrainingSet({ store: world.store, objects: world.objects }, spec("tampered"));
    const key = `tampered/${TRAINING_ROWS_FILE}`;
    const text = (await world.objects.get(key)).toString("utf8");
    await world.objects.put(key, text.replace(/"label":1/, '"label":0'));
    await expect(readTrainingSet(world.objects, "tampered")).rejects.toThrow(/tampered\/train\.jsonl: sha256 is [0-9a-f]{64}, its manifest says [0-9a-f]{64}/);
  });
});
