import { createHash } from "node:crypto";
import { createInterface } from "node:readline";
import {
  TRAINING_MANIFEST_FILE,
  TRAINING_ROWS_FILE,
  trainingSetManifestSchema,
  type TrainingSetManifest,
} from "@gapfill/contracts";
import type { ObjectStore } from "@gapfill/kit";
import { TrainingDataError, type LabelledRows } from "./model/index.ts";

/**
 * Reads an exported training set back into columns (oldest first), checking it against its manifest: the digest,
 * the counts, each row's dimension and label, and the ts order the export wrote. What the trainers and the gate use.
 */
export async function readTrainingSet(objects: ObjectStore, prefix: string): Promise<{ manifest: TrainingSetManifest; rows: LabelledRows }> {
  const manifestText = (await objects.get(`${prefix}/${TRAINING_MANIFEST_FILE}`)).toString("utf8");
  const manifest = trainingSetManifestSchema.parse(JSON.parse(manifestText));
  const { rows: count, dimension: d } = manifest;
  const ts = new Float64Array(count);
  const embeddings = new Float32Array(count * d);
  const labels = new Uint8Array(count);
  const where = `${prefix}/${TRAINING_ROWS_FILE}`;
  const digest = createHash("sha256");
  const stream = await objects.getStream(where);
  stream.on("data", (chunk: Buffer) => digest.update(chunk));
  let row = 0;
  let positives = 0;
  for await (const line of createInterface({ input: stream, crlfDelay: Infinity })) {
    if (line.length === 0) continue;
    if (row >= count) throw new TrainingDataError(`${where}: more rows than the ${count} its manifest states`);
    const parsed = JSON.parse(line) as { ts: number; embedding: number[]; label: number };
    if (!Array.isArray(parsed.embedding) || parsed.embedding.length !== d || (parsed.label !== 0 && parsed.label !== 1)) {
      throw new TrainingDataError(`${where}:${row + 1}: expected ${d} embedding values and a label 0 or 1`);
    }
    if (row > 0 && parsed.ts < ts[row - 1]!) throw new TrainingDataError(`${where}:${row + 1}: ts ${parsed.ts} is before the row above`);
    ts[row] = parsed.ts;
    embeddings.set(parsed.embedding, row * d);
    labels[row] = parsed.label;
    positives += parsed.label;
    row++;
  }
  const sha = digest.digest("hex");
  if (sha !== manifest.sha256[TRAINING_ROWS_FILE]) throw new TrainingDataError(`${where}: sha256 is ${sha}, its manifest says ${manifest.sha256[TRAINING_ROWS_FILE]}`);
  if (row !== count || positives !== manifest.positives) {
    throw new TrainingDataError(`${where}: ${row} rows with ${positives} positives, its manifest says ${count} and ${manifest.positives}`);
  }
  return { manifest, rows: { count, dimension: d, ts, embeddings, labels } };
}
