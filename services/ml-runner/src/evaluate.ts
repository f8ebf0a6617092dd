import type { GateDecision } from "@gapfill/contracts";
import {
  loadScoringModel,
  ModelContractError,
  ModelLoadError,
  ModelOutputError,
  PublishedModelError,
  readArtifact,
  readModelManifest,
  type Logger,
  type ObjectStore,
} from "@gapfill/kit";
import { holdoutMetrics, promotionDecision, type LabelledRows } from "./model/index.ts";

export interface GateRequest {
  objects: ObjectStore;
  /** MODEL_JSON: the published model the candidate must not be worse than. */
  modelJsonKey: string;
  /** The newest rows of the training set, which neither model was fitted on. */
  holdout: LabelledRows;
  candidateOnnx: Uint8Array;
  tolerance: number;
  log: Logger;
}

/** What onnxruntime says when a model file cannot serve: not loadable, not the contract, bad outputs. */
const isModelProblem = (error: unknown) =>
  error instanceof ModelLoadError || error instanceof ModelContractError || error instanceof ModelOutputError || error instanceof PublishedModelError;

/** prob_up of every holdout row through onnxruntime-node, which also checks the scoring contract. */
async function scoreFile(onnx: Uint8Array, holdout: LabelledRows): Promise<Float32Array> {
  const model = await loadScoringModel(onnx, holdout.dimension);
  try {
    return await model.score(holdout.embeddings);
  } finally {
    await model.release();
  }
}

/**
 * The gate: the candidate file and the published model are scored on the same holdout through onnxruntime-node.
 * Promote only a candidate that passes the scoring contract and whose log loss is not worse than the published
 * model's plus the tolerance (or when no usable model is published).
 */
export async function gateCandidate(request: GateRequest): Promise<GateDecision> {
  const { holdout, tolerance, log } = request;
  const published = await readModelManifest(request.objects, request.modelJsonKey).catch((error: unknown) => {
    if (isModelProblem(error)) return { problem: (error as Error).message };
    throw error;
  });
  let current: Float32Array | null = null;
  let currentProblem: string | null = null;
  let currentVersion: string | null = null;
  if (published && "problem" in published) {
    currentProblem = published.problem;
  } else if (published) {
    currentVersion = published.version;
    try {
      current = await scoreFile(await readArtifact(request.objects, published, "onnx"), holdout);
    } catch (error) {
      if (!isModelProblem(error)) throw error;
      currentProblem = `${published.version}: ${(error as Error).message}`;
    }
  }
  if (currentProblem) log.warn({ problem: currentProblem }, "the published model cannot be scored; the candidate is judged alone");

  let candidate: Float32Array;
  try {
    candidate = await scoreFile(request.candidateOnnx, holdout);
  } catch (error) {
    if (!isModelProblem(error)) throw error;
    return {
      promote: false,
      reason: `candidate breaks the scoring contract: ${(error as Error).message}`,
      tolerance,
      candidate: null,
      current: current && holdoutMetrics(current, holdout.labels),
      current_version: currentVersion,
    };
  }
  const decision = promotionDecision({ labels: holdout.labels, candidate, current, tolerance });
  return {
    promote: decision.promote,
    reason: currentProblem && decision.promote ? `the published model is unusable (${currentProblem}); ${decision.reason}` : decision.reason,
    tolerance,
    candidate: decision.candidate,
    current: decision.current,
    current_version: currentVersion,
  };
}
