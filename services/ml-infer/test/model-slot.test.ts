/**
 * The model in use follows the pointer: loaded when latest.json names another version or file, kept while it names
 * the same one (model.onnx is not fetched again), and never replaced by a model that fails a check — each refusal a
 * log line with its reason and a metric, on the local object directory and on an S3 server.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EMBEDDING_DIM } from "@gapfill/contracts";
import { createMetricsRegistry, openLocalObjectStore, openS3ObjectStore, sha256Hex, type ObjectStore, type Registry } from "@gapfill/kit";
import { capturingLogger, freePort, metricValue, startS3TestServer, uniqueNamespace, type S3TestServer } from "@gapfill/testkit";
import { createInferMetrics, createModelSlot, type ModelSlot } from "../src/index.ts";
import { MODEL_JSON, modelFileKey, publishTestModel, referenceScores, seededEmbeddings } from "./support.ts";

interface Backend {
  name: string;
  open(): Promise<{ objects: ObjectStore; close(): Promise<void> }>;
  /** The same store's settings with nothing listening: the store is down. */
  openDown?(): Promise<ObjectStore>;
}

let s3: S3TestServer;
const dirs: string[] = [];

const backends: Backend[] = [
  {
    name: "the local object directory",
    open: async () => {
      const dir = await mkdtemp(join(tmpdir(), "gapfill-infer-slot-"));
      dirs.push(dir);
      const objects = await openLocalObjectStore({ dir, namespace: uniqueNamespace() });
      return { objects, close: () => objects.close() };
    },
  },
  {
    name: "an S3 server",
    open: async () => {
      s3 ??= await startS3TestServer();
      const objects = openS3ObjectStore({ bucket: s3.bucket, region: s3.region, endpoint: s3.endpoint, credentials: s3.credentials });
      // One bucket for both tests of this backend: each starts from an empty pointer.
      await objects.delete(MODEL_JSON);
      return { objects, close: () => objects.close() };
    },
    openDown: async () =>
      openS3ObjectStore({ bucket: s3.bucket, region: s3.region, endpoint: `http://127.0.0.1:${await freePort()}`, credentials: s3.credentials }),
  },
];

afterAll(async () => {
  await s3?.close();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** An object store that counts reads per key, to tell a refresh that fetched model.onnx from one that did not. */
function countingGets(objects: ObjectStore): { objects: ObjectStore; gets: Map<string, number> } {
  const gets = new Map<string, number>();
  const counted = Object.create(objects) as ObjectStore;
  counted.get = (key) => {
    gets.set(key, (gets.get(key) ?? 0) + 1);
    return objects.get(key);
  };
  return { objects: counted, gets };
}

function slotOn(objects: ObjectStore): { slot: ModelSlot; registry: Registry; lines: Record<string, unknown>[] } {
  const { log, lines } = capturingLogger();
  const registry = createMetricsRegistry("ml-infer-test");
  const slot = createModelSlot({ objects, modelJsonKey: MODEL_JSON, embeddingDim: EMBEDDING_DIM, log, metrics: createInferMetrics(registry) });
  return { slot, registry, lines };
}

const failures = (registry: Registry, reason: string) => metricValue(registry, "ml_infer_model_load_failures_total", { reason });
const warnings = (lines: Record<string, unknown>[], reason: string) => lines.filter((line) => line.level === 40 && line.reason === reason);

for (const backend of backends) {
  describe(`the model slot on ${backend.name}`, () => {
    let objects: ObjectStore;
    let close: () => Promise<void>;
    beforeAll(async () => ({ objects, close } = await backend.open()));
    afterAll(() => close?.());

    it("waits for a first model, loads it, keeps it while the pointer is unchanged, and swaps in the next one", async () => {
      const counted = countingGets(objects);
      const { slot, registry, lines } = slotOn(counted.objects);
      try {
        expect(await slot.refresh("start")).toMatchObject({ outcome: "failed", reason: "no_model", serving: null });
        expect(slot.current).toBeNull();
        expect(await failures(registry, "no_model")).toBe(1);
        expect(lines.find((line) => line.reason === "no_model")?.msg).toMatch(/no model published yet: no model\/latest\.json in .*; no model to serve yet/);

        const v1 = await publishTestModel(objects, "v1", { seed: 1 });
        expect(await slot.refresh("tick")).toEqual({ outcome: "loaded", version: "v1", previous: null });
        expect(await metricValue(registry, "ml_infer_model_loaded", { version: "v1" })).toBe(1);
        // It scores as the file does.
        const rows = seededEmbeddings("BTCUSDT", 0, 3);
        const reference = await referenceScores(v1.onnx, rows);
        const scored = await slot.current!.scorer.score(rows.map((row) => Array.from(row.embedding)));
        rows.forEach((row, i) => expect(scored[i]).toBeCloseTo(reference.get(`BTCUSDT:${row.ts}`)!, 6));

        expect(await slot.refresh("tick")).toEqual({ outcome: "unchanged", version: "v1" });
        expect(counted.gets.get(modelFileKey("v1"))).toBe(1);
        expect(counted.gets.get(MODEL_JSON)).toBe(3);

        await publishTestModel(objects, "v2", { seed: 2 });
        expect(await slot.refresh("published")).toEqual({ outcome: "loaded", version: "v2", previous: "v1" });
        expect(slot.current!.version).toBe("v2");
        // One series: the version in use.
        expect(await metricValue(registry, "ml_infer_model_loaded")).toBe(1);
        expect(await metricValue(registry, "ml_infer_model_loaded", { version: "v2" })).toBe(1);
      } finally {
        await slot.release();
      }
    });

    it("refuses a model that fails a check, says why once, counts every attempt, and keeps the previous one serving", async () => {
      const { slot, registry, lines } = slotOn(objects);
      try {
        const good = await publishTestModel(objects, "good", { seed: 3 });
        await slot.refresh("start");
        expect(slot.current!.version).toBe("good");

        // Bytes that are not the ones latest.json names: another valid model written over the file.
        const tampered = await publishTestModel(objects, "tampered", { seed: 4 });
        await objects.put(modelFileKey("tampered"), good.onnx);
        for (let attempt = 0; attempt < 2; attempt++) {
          expect(await slot.refresh("tick")).toMatchObject({ outcome: "failed", reason: "sha256", serving: "good" });
        }
        expect(await failures(registry, "sha256")).toBe(2);
        const [refusal, ...more] = warnings(lines, "sha256");
        expect(more).toEqual([]);
        expect(refusal!.msg).toBe(
          `model not loaded (sha256): model tampered: ${modelFileKey("tampered")} has sha256 ${sha256Hex(good.onnx)}, ` +
            `its manifest says ${tampered.manifest.sha256.onnx}; still serving good`,
        );

        await publishTestModel(objects, "wide", { seed: 5, dimension: EMBEDDING_DIM + 1 });
        expect(await slot.refresh("tick")).toMatchObject({ outcome: "failed", reason: "contract", serving: "good" });
        expect(warnings(lines, "contract")[0]!.msg).toMatch(/model wide takes embeddings of 26 values; the featurizer's have 25/);

        // latest.json declares the right dimension, the graph takes another: onnxruntime's metadata tells.
        await publishTestModel(objects, "liar", { seed: 6, graphDimension: 10 });
        expect(await slot.refresh("tick")).toMatchObject({ outcome: "failed", reason: "contract", serving: "good" });

        const notOnnx = await publishTestModel(objects, "garbage", { seed: 7 });
        const garbage = new TextEncoder().encode("not an onnx model");
        await objects.put(modelFileKey("garbage"), garbage);
        await objects.put(MODEL_JSON, JSON.stringify({ ...notOnnx.manifest, sha256: { ...notOnnx.manifest.sha256, onnx: sha256Hex(garbage) } }));
        expect(await slot.refresh("tick")).toMatchObject({ outcome: "failed", reason: "load", serving: "good" });

        await objects.delete(modelFileKey("garbage"));
        expect(await slot.refresh("tick")).toMatchObject({ outcome: "failed", reason: "missing", serving: "good" });

        await objects.put(MODEL_JSON, "{ not json");
        expect(await slot.refresh("tick")).toMatchObject({ outcome: "failed", reason: "manifest", serving: "good" });

        expect(slot.current!.version).toBe("good");
        expect(await metricValue(registry, "ml_infer_model_loaded", { version: "good" })).toBe(1);
        for (const reason of ["contract", "load", "missing", "manifest"]) expect(await failures(registry, reason)).toBeGreaterThan(0);

        // Pointing back at the good model is no change at all.
        await objects.put(MODEL_JSON, JSON.stringify(good.manifest));
        expect(await slot.refresh("tick")).toEqual({ outcome: "unchanged", version: "good" });
        expect(lines.at(-1)!.msg).toBe("the model pointer is readable again; serving good");
      } finally {
        await slot.release();
      }
    });

    if (backend.openDown) {
      it("keeps serving while the object store is down, and says so once it answers again", async () => {
        await publishTestModel(objects, "before-outage", { seed: 8 });
        const down = await backend.openDown!();
        // The slot's store: the real one, then one with nothing listening, then the real one again.
        let backing = objects;
        const switchable = Object.create(objects) as ObjectStore;
        switchable.get = (key) => backing.get(key);
        const { slot, registry, lines } = slotOn(switchable);
        try {
          await slot.refresh("start");
          backing = down;
          expect(await slot.refresh("tick")).toMatchObject({ outcome: "failed", reason: "store", serving: "before-outage" });
          expect(await failures(registry, "store")).toBe(1);
          expect(warnings(lines, "store")[0]!.msg).toMatch(/^model not loaded \(store\): S3 bucket .*: get model\/latest\.json failed: .*; still serving before-outage$/);
          expect(slot.current!.version).toBe("before-outage");
          backing = objects;
          expect(await slot.refresh("tick")).toEqual({ outcome: "unchanged", version: "before-outage" });
        } finally {
          await slot.release();
          await down.close();
        }
      });
    }
  });
}
