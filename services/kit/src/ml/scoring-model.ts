import { MODEL_INPUT_NAME, MODEL_OUTPUT_NAME, probabilityViolation } from "@gapfill/contracts";
import type { InferenceSession } from "onnxruntime-node";
import { checkScoringContract } from "./contract.ts";
import { ModelLoadError, ModelOutputError } from "./errors.ts";

/** A loaded prob_up model that satisfies the scoring contract for one embedding dimension. */
export interface ScoringModel {
  readonly embeddingDim: number;
  /**
   * prob_up of every row in one batch: `embeddings` is count × D float32 row-major, or one array per row.
   * Throws a ModelOutputError if any output is not a finite number in [0, 1].
   */
  score(embeddings: Float32Array | readonly (readonly number[])[]): Promise<Float32Array>;
  release(): Promise<void>;
}

function toMatrix(embeddings: Float32Array | readonly (readonly number[])[], embeddingDim: number): Float32Array {
  if (embeddings instanceof Float32Array) {
    if (embeddings.length % embeddingDim !== 0) {
      throw new RangeError(`embeddings hold ${embeddings.length} numbers, not a multiple of the dimension ${embeddingDim}`);
    }
    return embeddings;
  }
  const matrix = new Float32Array(embeddings.length * embeddingDim);
  embeddings.forEach((row, i) => {
    if (row.length !== embeddingDim) throw new RangeError(`embedding ${i} has ${row.length} numbers, expected ${embeddingDim}`);
    matrix.set(row, i * embeddingDim);
  });
  return matrix;
}

/**
 * Loads ONNX bytes into one CPU session and checks the contract before anything is scored. Throws a
 * ModelLoadError when onnxruntime cannot load the bytes and a ModelContractError when the model's interface differs.
 */
export async function loadScoringModel(bytes: Uint8Array, embeddingDim: number): Promise<ScoringModel> {
  // Imported here, not at the top, so services that import kit but never score do not load the native runtime.
  const { InferenceSession, Tensor } = await import("onnxruntime-node");
  let session: InferenceSession;
  try {
    session = await InferenceSession.create(bytes, {
      executionProviders: ["cpu"],
      // Scoring batches are small; one thread leaves the machine's other cores to the services around it.
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      logSeverityLevel: 3,
    });
  } catch (error) {
    throw new ModelLoadError(`not a loadable ONNX model (${bytes.byteLength} bytes): ${(error as Error).message}`);
  }
  try {
    checkScoringContract(session, embeddingDim);
  } catch (error) {
    await session.release();
    throw error;
  }
  return {
    embeddingDim,
    async score(embeddings) {
      const matrix = toMatrix(embeddings, embeddingDim);
      const count = matrix.length / embeddingDim;
      if (count === 0) return new Float32Array(0);
      const outputs = await session.run({ [MODEL_INPUT_NAME]: new Tensor("float32", matrix, [count, embeddingDim]) });
      const probabilities = outputs[MODEL_OUTPUT_NAME]?.data;
      if (!(probabilities instanceof Float32Array) || probabilities.length !== count) {
        throw new ModelOutputError(`expected ${count} float32 ${MODEL_OUTPUT_NAME} values, got ${probabilities?.length ?? "none"}`);
      }
      const violation = probabilityViolation(probabilities);
      if (violation) throw new ModelOutputError(violation);
      return probabilities;
    },
    release: () => session.release(),
  };
}
