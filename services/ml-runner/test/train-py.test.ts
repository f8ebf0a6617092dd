import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  TRAINING_MANIFEST_FILE,
  TRAINING_ROWS_FILE,
  trainingHyperparametersSchema,
  trainingMetricsSchema,
  type TrainingRow,
  type TrainingSetManifest,
} from "@gapfill/contracts";
import { loadScoringModel, sha256Hex } from "@gapfill/kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { holdoutMetrics, labelledRows, ModelProto, rowRange, timeOrderedSplit } from "../src/index.ts";
import { syntheticRows } from "./synthetic-rows.ts";

/** Debian's python3-torch installs torch for /usr/bin/python3 (`apt-get install -y python3-torch`). */
const PYTHON = process.env.TRAIN_PYTHON ?? "/usr/bin/python3";
const TRAIN_PY = fileURLToPath(new URL("../sagemaker/train.py", import.meta.url));
const DIM = 8;
const hp = trainingHyperparametersSchema.parse({});
const rows = syntheticRows({ seed: 21, count: 3_000, dimension: DIM });

/** A directory laid out like a SageMaker container's /opt/ml. */
interface OptMl {
  root: string;
  channel: string;
  model: string;
  output: string;
  outputData: string;
}

let workDir: string;
let jobs = 0;

async function optMl(): Promise<OptMl> {
  const root = join(workDir, `job${jobs++}`);
  const layout = {
    root,
    channel: join(root, "input/data/train"),
    model: join(root, "model"),
    output: join(root, "output"),
    outputData: join(root, "output/data"),
  };
  await Promise.all([layout.channel, layout.model, layout.outputData].map((dir) => mkdir(dir, { recursive: true })));
  return layout;
}

/** train.jsonl and manifest.json as the export writes them. */
async function writeTrainingSet(channel: string, trainingRows: TrainingRow[], manifestChanges: Partial<TrainingSetManifest> = {}) {
  const jsonl = trainingRows.map((row) => JSON.stringify(row)).join("\n") + "\n";
  await writeFile(join(channel, TRAINING_ROWS_FILE), jsonl);
  const manifest: TrainingSetManifest = {
    rows: trainingRows.length,
    positives: trainingRows.filter((row) => row.label === 1).length,
    window: { from: trainingRows[0]!.ts, to: trainingRows.at(-1)!.ts + 15_000 },
    feature_version: "synthetic-1",
    dimension: DIM,
    label_horizon_ms: hp.horizon_ms,
    sha256: { [TRAINING_ROWS_FILE]: sha256Hex(jsonl) },
    ...manifestChanges,
  };
  await writeFile(join(channel, TRAINING_MANIFEST_FILE), JSON.stringify(manifest));
}

function hyperparameterArgs(values: Record<string, number>): string[] {
  return Object.entries(values).flatMap(([name, value]) => [`--${name}`, String(value)]);
}

function trainPy(layout: OptMl, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [TRAIN_PY, ...args], {
      env: {
        PATH: process.env.PATH,
        SM_CHANNEL_TRAIN: layout.channel,
        SM_MODEL_DIR: layout.model,
        SM_OUTPUT_DATA_DIR: layout.outputData,
        SM_OUTPUT_DIR: layout.output,
        // Keep torch to one core: other tests share this machine.
        OMP_NUM_THREADS: "1",
      },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), "gapfill-train-py-"));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

describe("train.py (SageMaker entry point)", () => {
  it("trains on the channel and writes a contract-conforming model.onnx with the in-process metrics' names and split", async () => {
    const layout = await optMl();
    await writeTrainingSet(layout.channel, rows);
    const run = await trainPy(layout, hyperparameterArgs(hp));
    expect(run.stderr).not.toMatch(/Traceback/);
    expect(run.code).toBe(0);

    const metrics = trainingMetricsSchema.parse(JSON.parse(await readFile(join(layout.model, "metrics.json"), "utf8")));
    const columns = labelledRows(rows, DIM);
    const split = timeOrderedSplit(columns.ts, { holdoutFraction: hp.holdout_fraction, horizonMs: hp.horizon_ms });
    expect(metrics).toMatchObject({ train_rows: split.trainRows, embargoed_rows: split.embargoedRows, holdout_rows: split.holdoutRows });
    expect(metrics.auc).toBeGreaterThan(0.85);

    const onnx = await readFile(join(layout.model, "model.onnx"));
    const written = ModelProto.toObject(ModelProto.decode(onnx), { longs: Number }) as {
      opset_import: { version: number }[];
      graph: { node: { op_type: string }[] };
    };
    expect(written.opset_import.map((opset) => opset.version)).toEqual([17]);
    expect(written.graph.node.map((node) => node.op_type)).toEqual(["Gemm", "Relu", "Gemm", "Sigmoid"]);

    const scorer = await loadScoringModel(onnx, DIM);
    try {
      const holdout = rowRange(columns, split.holdoutStart, columns.count);
      const probabilities = await scorer.score(holdout.embeddings);
      expect(probabilities.every((p) => p >= 0 && p <= 1)).toBe(true);
      // The same definitions on both sides: train.py's metrics equal the TS metrics of its model's ONNX outputs.
      const recomputed = holdoutMetrics(probabilities, holdout.labels);
      expect(metrics.log_loss).toBeCloseTo(recomputed.log_loss, 5);
      expect(metrics.auc).toBeCloseTo(recomputed.auc!, 4);
      expect(metrics.accuracy).toBeCloseTo(recomputed.accuracy, 2);
      expect(metrics.base_rate).toBe(recomputed.base_rate);
      expect(metrics.no_skill_log_loss).toBeCloseTo(recomputed.no_skill_log_loss, 12);
    } finally {
      await scorer.release();
    }

    const training = JSON.parse(await readFile(join(layout.outputData, "training.json"), "utf8"));
    expect(training.epoch_log_loss).toHaveLength(hp.epochs);
    expect(training.feature_version).toBe("synthetic-1");
  });

  it("takes the label horizon from the manifest when no horizon_ms is passed", async () => {
    const layout = await optMl();
    await writeTrainingSet(layout.channel, rows, { label_horizon_ms: 30 * 60_000 });
    const run = await trainPy(layout, ["--epochs", "1"]);
    expect(run.code).toBe(0);
    const metrics = trainingMetricsSchema.parse(JSON.parse(await readFile(join(layout.model, "metrics.json"), "utf8")));
    // Two rows per 15 s bar: a 30 min horizon embargoes 120 bars.
    expect(metrics.embargoed_rows).toBe(240);
  });

  it("exits non-zero naming a bad hyperparameter, and writes the reason where SageMaker reads it", async () => {
    const layout = await optMl();
    await writeTrainingSet(layout.channel, rows);
    const run = await trainPy(layout, ["--epochs", "0"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/hyperparameters: argument --epochs: expected a number >= 1, got 0/);
    expect(await readFile(join(layout.output, "failure"), "utf8")).toMatch(/--epochs/);
    const fraction = await trainPy(layout, ["--holdout_fraction", "1"]);
    expect(fraction.code).toBe(1);
    expect(fraction.stderr).toMatch(/--holdout_fraction: expected a number > 0 and < 1, got 1/);
  });

  it("exits non-zero on an empty channel", async () => {
    const layout = await optMl();
    const run = await trainPy(layout, []);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/manifest\.json not found \(channel holds \[\]\)/);
  });

  it("exits non-zero when the rows do not match the manifest", async () => {
    const tampered = await optMl();
    await writeTrainingSet(tampered.channel, rows, { sha256: { [TRAINING_ROWS_FILE]: "0".repeat(64) } });
    const digest = await trainPy(tampered, []);
    expect(digest.code).toBe(1);
    expect(digest.stderr).toMatch(/train\.jsonl: sha256 is [0-9a-f]{64}, manifest\.json says 0{64}/);

    const wider = await optMl();
    await writeTrainingSet(wider.channel, rows, { dimension: DIM + 1 });
    const dimension = await trainPy(wider, []);
    expect(dimension.code).toBe(1);
    expect(dimension.stderr).toMatch(/train\.jsonl:1: embedding must be 9 finite numbers/);
  });
});
