import {
  loadScoringModel,
  ModelContractError,
  ModelLoadError,
  ModelOutputError,
  ObjectStoreError,
  PublishedModelError,
  readArtifact,
  readModelManifest,
  type Logger,
  type ObjectStore,
  type ScoringModel,
} from "@gapfill/kit";
import type { InferMetrics } from "./metrics.ts";

/**
 * Why the model the pointer names is not serving: no pointer yet (`no_model`), a pointer that is not a manifest
 * (`manifest`), the object store failing (`store`), model.onnx missing (`missing`) or not the bytes the pointer names
 * (`sha256`), not loadable by onnxruntime (`load`), not the scoring contract or another embedding dimension
 * (`contract`), outputs outside [0, 1] on a probe (`output`), anything else (`other`).
 */
export const LOAD_FAILURE_REASONS = ["no_model", "manifest", "store", "missing", "sha256", "load", "contract", "output", "other"] as const;
export type LoadFailureReason = (typeof LOAD_FAILURE_REASONS)[number];

/** The model in use: the version and model.onnx digest the pointer named when it was loaded. */
export interface LoadedModel {
  readonly version: string;
  readonly onnxSha256: string;
  readonly scorer: ScoringModel;
}

export type RefreshOutcome =
  | { outcome: "unchanged"; version: string }
  | { outcome: "loaded"; version: string; previous: string | null }
  | { outcome: "failed"; reason: LoadFailureReason; message: string; serving: string | null };

export interface ModelSlot {
  /** The model in use, or null before the first successful load. */
  readonly current: LoadedModel | null;
  /**
   * Reads the pointer and, when it names another version or file than the one in use, fetches model.onnx, checks
   * it and swaps it in; any failure leaves the model in use serving. Never throws. Callers must not score while a
   * refresh runs (the swap releases the previous session).
   */
  refresh(trigger: string): Promise<RefreshOutcome>;
  /** Releases the session in use. */
  release(): Promise<void>;
}

export interface ModelSlotOptions {
  objects: ObjectStore;
  /** MODEL_JSON. */
  modelJsonKey: string;
  /** The featurizer's dimension (EMBEDDING_DIM): a model of another one cannot score the stored embeddings. */
  embeddingDim: number;
  log: Logger;
  metrics: InferMetrics;
}

class RefusedModel extends Error {
  readonly reason: LoadFailureReason;

  constructor(
    reason: LoadFailureReason,
    message: string,
  ) {
    super(message);
    this.reason = reason;
  }
}

function reasonOf(error: unknown): LoadFailureReason {
  if (error instanceof RefusedModel) return error.reason;
  if (error instanceof PublishedModelError) return error.problem;
  if (error instanceof ObjectStoreError) return "store";
  if (error instanceof ModelLoadError) return "load";
  if (error instanceof ModelContractError) return "contract";
  if (error instanceof ModelOutputError) return "output";
  return "other";
}

export function createModelSlot(options: ModelSlotOptions): ModelSlot {
  const { objects, modelJsonKey, embeddingDim, log, metrics } = options;
  let current: LoadedModel | null = null;
  /** The last failure reported at warn level: the same failure again is only counted and logged at debug. */
  let lastFailure: string | null = null;

  /** Reads the pointer; returns the model it names when that is not the one in use, loaded and checked. */
  async function loadNamed(): Promise<LoadedModel | null> {
    const manifest = await readModelManifest(objects, modelJsonKey);
    if (!manifest) throw new RefusedModel("no_model", `no model published yet: no ${modelJsonKey} in ${objects.location}`);
    const onnxSha256 = manifest.sha256.onnx ?? "";
    if (current?.version === manifest.version && current.onnxSha256 === onnxSha256) return null;
    const dimension = manifest.input.dims[1];
    if (dimension !== embeddingDim) {
      throw new RefusedModel(
        "contract",
        `model ${manifest.version} takes embeddings of ${dimension} values; the featurizer's have ${embeddingDim}`,
      );
    }
    const scorer = await loadScoringModel(await readArtifact(objects, manifest, "onnx"), embeddingDim);
    try {
      // One probe row: a model whose outputs break the contract is refused now, not at its first batch.
      await scorer.score(new Float32Array(embeddingDim));
    } catch (error) {
      await scorer.release();
      throw error;
    }
    return { version: manifest.version, onnxSha256, scorer };
  }

  function reportFailure(error: unknown, trigger: string): RefreshOutcome {
    const reason = reasonOf(error);
    const message = (error as Error).message;
    const serving = current?.version ?? null;
    metrics.loadFailures.inc({ reason });
    const key = `${reason}:${message}`;
    const fields = { reason, trigger, modelJson: modelJsonKey, serving };
    const text = `model not loaded (${reason}): ${message}; ${serving ? `still serving ${serving}` : "no model to serve yet"}`;
    if (key === lastFailure) log.debug(fields, text);
    else if (reason === "no_model") log.info(fields, text);
    else log.warn(fields, text);
    lastFailure = key;
    return { outcome: "failed", reason, message, serving };
  }

  return {
    get current() {
      return current;
    },
    async refresh(trigger) {
      let next: LoadedModel | null;
      try {
        next = await loadNamed();
      } catch (error) {
        return reportFailure(error, trigger);
      }
      const recovered = lastFailure !== null;
      lastFailure = null;
      if (!next) {
        if (recovered) log.info({ version: current!.version, trigger }, `the model pointer is readable again; serving ${current!.version}`);
        return { outcome: "unchanged", version: current!.version };
      }
      const previous = current;
      current = next;
      metrics.modelLoaded.reset();
      metrics.modelLoaded.set({ version: next.version }, 1);
      log.info({ version: next.version, previous: previous?.version ?? null, onnx_sha256: next.onnxSha256, trigger }, `model ${next.version} loaded`);
      await previous?.scorer.release();
      return { outcome: "loaded", version: next.version, previous: previous?.version ?? null };
    },
    async release() {
      await current?.scorer.release();
      current = null;
      metrics.modelLoaded.reset();
    },
  };
}
