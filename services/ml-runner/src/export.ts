import { createHash } from "node:crypto";
import {
  TRAINING_MANIFEST_FILE,
  TRAINING_ROWS_FILE,
  trainingSetManifestSchema,
  type TrainingSetManifest,
} from "@gapfill/contracts";
import type { ObjectStore, Store } from "@gapfill/kit";
import { labelAt, readBarCloses, type BarCloses } from "./bar-closes.ts";
import { TrainingDataError } from "./model/index.ts";

export interface TrainingSetSpec {
  /** Object-store prefix the files go under (`<TRAIN_PREFIX>/<run_id>`). */
  prefix: string;
  /** Rows with from <= ts < to (epoch ms). */
  window: { from: number; to: number };
  horizonMs: number;
  featureVersion: string;
  dimension: number;
  /** Embeddings read per store query (default the store's). */
  pageSize?: number;
  /** Aborting it ends the export between two rows; nothing is stored then. */
  signal?: AbortSignal;
}

export interface ExportedTrainingSet {
  manifest: TrainingSetManifest;
  /** Embeddings left out because the bar at ts or at ts + horizon is not in the table (yet). */
  unlabelled: number;
  bytes: number;
}

/** Lines are handed to the object store in chunks of about this many characters. */
const CHUNK_CHARS = 1 << 16;

/**
 * Exports the training set of a window: every embedding of `featureVersion` in the window (through the store, any
 * backend), labelled from the bars `horizonMs` later, as `train.jsonl` streamed to the object store while it is
 * read (never whole in memory), then `manifest.json` with its counts and sha256. The closes of each symbol are read
 * once, in one pass over its bars, when the symbol's first row arrives.
 */
export async function exportTrainingSet(deps: { store: Store; objects: ObjectStore }, spec: TrainingSetSpec): Promise<ExportedTrainingSet> {
  const { store, objects } = deps;
  const { from, to } = spec.window;
  const closesBySymbol = new Map<string, Promise<BarCloses>>();
  const closesOf = (symbol: string) => {
    let closes = closesBySymbol.get(symbol);
    if (!closes) {
      closes = readBarCloses(store, symbol, from, to - 1 + spec.horizonMs);
      closesBySymbol.set(symbol, closes);
    }
    return closes;
  };
  const digest = createHash("sha256");
  let rows = 0;
  let positives = 0;
  let unlabelled = 0;

  async function* lines(): AsyncGenerator<string> {
    let chunk = "";
    const embeddings = store.exportEmbeddings({
      fromTs: from - 1,
      toTs: to - 1,
      featureVersion: spec.featureVersion,
      ...(spec.pageSize === undefined ? {} : { pageSize: spec.pageSize }),
    });
    for await (const row of embeddings) {
      spec.signal?.throwIfAborted();
      if (row.embedding.length !== spec.dimension) {
        throw new TrainingDataError(`${row.symbol} ${row.ts}: a ${spec.featureVersion} embedding of ${row.embedding.length} values, expected ${spec.dimension}`);
      }
      const label = labelAt(await closesOf(row.symbol), row.ts, spec.horizonMs);
      if (label === null) {
        unlabelled++;
        continue;
      }
      const line = `${JSON.stringify({ symbol: row.symbol, ts: row.ts, embedding: Array.from(row.embedding), label })}\n`;
      digest.update(line);
      rows++;
      positives += label;
      chunk += line;
      if (chunk.length >= CHUNK_CHARS) {
        yield chunk;
        chunk = "";
      }
    }
    if (chunk.length > 0) yield chunk;
  }

  const { size } = await objects.putStream(`${spec.prefix}/${TRAINING_ROWS_FILE}`, lines());
  const manifest = trainingSetManifestSchema.parse({
    rows,
    positives,
    window: { from, to },
    feature_version: spec.featureVersion,
    dimension: spec.dimension,
    label_horizon_ms: spec.horizonMs,
    sha256: { [TRAINING_ROWS_FILE]: digest.digest("hex") },
  });
  await objects.put(`${spec.prefix}/${TRAINING_MANIFEST_FILE}`, `${JSON.stringify(manifest, null, 2)}\n`);
  return { manifest, unlabelled, bytes: size };
}
