import { modelArtifactKey, type ModelManifest } from "@gapfill/contracts";
import type { ObjectStore } from "@gapfill/kit";
import type { RunEvents } from "./events.ts";
import { METRICS_FILE, MODEL_FILE, VERSION_MANIFEST_FILE } from "./published-model.ts";

export interface Pointer {
  objects: ObjectStore;
  events: RunEvents;
  /** MODEL_JSON. */
  modelJsonKey: string;
}

/** Who moved the pointer: a run's gate (with its run id) or a promotion by hand. */
export type PromotedBy = { by: "run"; runId: string } | { by: "cli" };

const manifestText = (manifest: ModelManifest) => `${JSON.stringify(manifest, null, 2)}\n`;

/**
 * Points MODEL_JSON at a version whose files are in place, then announces it on `ml.model.published`: a reader of
 * latest.json never finds a version whose files are not there yet.
 */
export async function pointLatestAt(pointer: Pointer, manifest: ModelManifest, promoted: PromotedBy, at: Date): Promise<void> {
  await pointer.objects.put(pointer.modelJsonKey, manifestText(manifest));
  await pointer.events.published({
    version: manifest.version,
    manifest: pointer.modelJsonKey,
    onnx_sha256: manifest.sha256.onnx!,
    run_id: promoted.by === "run" ? promoted.runId : null,
    promoted_by: promoted.by,
    at: at.toISOString(),
  });
}

/**
 * Publishes a new version: `<MODEL_PREFIX>/<version>/model.onnx`, `metrics.json` and `model.json` first, latest.json
 * last, then the event. Every write replaces the object whole, so repeating it (a resumed run) is harmless.
 */
export async function publishVersion(
  pointer: Pointer,
  release: { modelPrefix: string; manifest: ModelManifest; onnx: Uint8Array; metricsText: string },
  promoted: PromotedBy,
  at: Date,
): Promise<void> {
  const { modelPrefix, manifest } = release;
  const key = (file: string) => modelArtifactKey(modelPrefix, manifest.version, file);
  await pointer.objects.put(key(MODEL_FILE), release.onnx);
  await pointer.objects.put(key(METRICS_FILE), release.metricsText);
  await pointer.objects.put(key(VERSION_MANIFEST_FILE), manifestText(manifest));
  await pointLatestAt(pointer, manifest, promoted, at);
}
