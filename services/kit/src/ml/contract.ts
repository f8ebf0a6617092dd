import { MODEL_INPUT_NAME, MODEL_OUTPUT_NAME } from "@gapfill/contracts";
import type { InferenceSession } from "onnxruntime-node";
import { ModelContractError } from "./errors.ts";

type ValueMetadata = InferenceSession.ValueMetadata;

/** "float32 [batch, 32]"; a symbolic (dynamic) dimension prints as its name, an unnamed one as "?". */
function describeValue(value: ValueMetadata): string {
  if (!value.isTensor) return `"${value.name}" (not a tensor)`;
  const dims = value.shape.map((d) => (typeof d === "number" && d >= 0 ? String(d) : typeof d === "string" && d ? d : "?"));
  return `"${value.name}" ${value.type} [${dims.join(", ")}]`;
}

const describeAll = (values: readonly ValueMetadata[]) =>
  values.length === 0 ? "none" : values.map(describeValue).join(", ");

function isDynamic(dim: number | string | undefined): boolean {
  return typeof dim === "string" || (typeof dim === "number" && dim < 0);
}

/** One float32 tensor of the given name, shape [dynamic, columns]. */
function matches(values: readonly ValueMetadata[], name: string, columns: number): boolean {
  const [value] = values;
  return (
    values.length === 1 &&
    value !== undefined &&
    value.name === name &&
    value.isTensor &&
    value.type === "float32" &&
    value.shape.length === 2 &&
    isDynamic(value.shape[0]) &&
    value.shape[1] === columns
  );
}

/**
 * Checks a loaded session's declared inputs and outputs: one float32 input `embedding` [dynamic, D] and one
 * float32 output `prob_up` [dynamic, 1]; throws a ModelContractError naming both sides otherwise.
 */
export function checkScoringContract(
  session: Pick<InferenceSession, "inputMetadata" | "outputMetadata">,
  embeddingDim: number,
): void {
  if (!matches(session.inputMetadata, MODEL_INPUT_NAME, embeddingDim)) {
    throw new ModelContractError(
      `input "${MODEL_INPUT_NAME}" float32 [dynamic, ${embeddingDim}]`,
      `input ${describeAll(session.inputMetadata)}`,
    );
  }
  if (!matches(session.outputMetadata, MODEL_OUTPUT_NAME, 1)) {
    throw new ModelContractError(
      `output "${MODEL_OUTPUT_NAME}" float32 [dynamic, 1]`,
      `output ${describeAll(session.outputMetadata)}`,
    );
  }
}
