import { modelArtifactKey, modelMetricsSchema, type ModelManifest, type ModelMetrics } from "@gapfill/contracts";
import { loadScoringModel, PublishedModelError, readArtifact, readModelManifest, type ObjectStore } from "@gapfill/kit";
import { pointLatestAt, type Pointer } from "./publish.ts";
import { VERSION_MANIFEST_FILE } from "./published-model.ts";

/** What the model CLI reads and moves: the published versions under MODEL_PREFIX and the MODEL_JSON pointer. */
export interface ModelRegistry {
  objects: ObjectStore;
  modelPrefix: string;
  modelJsonKey: string;
}

export interface PublishedVersion {
  manifest: ModelManifest;
  /** Whether MODEL_JSON points at it now. */
  current: boolean;
}

/** Every published version (those with a model.json), oldest first: versions are run ids, which sort by time. */
export async function listModelVersions(registry: ModelRegistry): Promise<PublishedVersion[]> {
  const latest = await readModelManifest(registry.objects, registry.modelJsonKey).catch(() => null);
  const suffix = `/${VERSION_MANIFEST_FILE}`;
  const keys = (await registry.objects.list(`${registry.modelPrefix}/`))
    .map((info) => info.key)
    .filter((key) => key.endsWith(suffix) && !key.slice(registry.modelPrefix.length + 1, -suffix.length).includes("/"));
  const versions: PublishedVersion[] = [];
  for (const key of keys) {
    const manifest = await readModelManifest(registry.objects, key);
    if (manifest) versions.push({ manifest, current: manifest.version === latest?.version });
  }
  return versions;
}

/** One version's manifest and metrics.json (with the gate decision that published it). */
export async function showModelVersion(registry: ModelRegistry, version: string): Promise<PublishedVersion & { metrics: ModelMetrics }> {
  const manifest = await versionManifest(registry, version);
  const metrics = modelMetricsSchema.parse(JSON.parse((await readArtifact(registry.objects, manifest, "metrics")).toString("utf8")));
  const latest = await readModelManifest(registry.objects, registry.modelJsonKey).catch(() => null);
  return { manifest, metrics, current: latest?.version === version };
}

async function versionManifest(registry: ModelRegistry, version: string): Promise<ModelManifest> {
  const key = modelArtifactKey(registry.modelPrefix, version, VERSION_MANIFEST_FILE);
  const manifest = await readModelManifest(registry.objects, key);
  if (!manifest) throw new PublishedModelError("missing", `no published version ${version} (no ${key}); \`npm run model -- list\` shows the versions`);
  return manifest;
}

/**
 * Points MODEL_JSON at a published version (a rollback, or forward again), the way a run publishes: the version's
 * files are checked first (sha256 as recorded, loadable, the scoring contract, outputs in [0, 1] on a probe batch),
 * then the pointer is written, then `ml.model.published` announces it.
 */
export async function promoteModelVersion(pointer: Pointer & ModelRegistry, version: string, at = new Date()): Promise<ModelManifest> {
  const manifest = await versionManifest(pointer, version);
  const dimension = manifest.input.dims[1];
  const model = await loadScoringModel(await readArtifact(pointer.objects, manifest, "onnx"), dimension);
  try {
    await model.score(new Float32Array(2 * dimension).fill(0));
  } finally {
    await model.release();
  }
  await readArtifact(pointer.objects, manifest, "metrics");
  await pointLatestAt(pointer, manifest, { by: "cli" }, at);
  return manifest;
}
