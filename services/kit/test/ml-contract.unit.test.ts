import { describe, expect, it } from "vitest";
import type { InferenceSession } from "onnxruntime-node";
import { checkScoringContract, ModelContractError, sha256Hex } from "../src/index.ts";

type Metadata = InferenceSession.ValueMetadata;
const tensor = (name: string, shape: (number | string)[], type: "float32" | "float64" = "float32"): Metadata => ({
  name,
  isTensor: true,
  type,
  shape,
});
const session = (inputMetadata: Metadata[], outputMetadata: Metadata[] = [tensor("prob_up", ["batch", 1])]) => ({
  inputMetadata,
  outputMetadata,
});

function refusal(metadata: ReturnType<typeof session>, dimension = 4): ModelContractError {
  try {
    checkScoringContract(metadata, dimension);
  } catch (error) {
    expect(error).toBeInstanceOf(ModelContractError);
    return error as ModelContractError;
  }
  throw new Error("the contract check accepted the model");
}

describe("scoring contract check (session metadata)", () => {
  it("accepts embedding [dynamic, D] -> prob_up [dynamic, 1], named or unnamed dynamic batch", () => {
    expect(() => checkScoringContract(session([tensor("embedding", ["batch", 4])]), 4)).not.toThrow();
    expect(() => checkScoringContract(session([tensor("embedding", [-1, 4])], [tensor("prob_up", [-1, 1])]), 4)).not.toThrow();
  });

  it("refuses, naming expected and found: a symbolic D, another type, an extra input, no output, a non-tensor", () => {
    expect(refusal(session([tensor("embedding", ["batch", "d"])])).actual).toBe('input "embedding" float32 [batch, d]');
    expect(refusal(session([tensor("embedding", ["batch", 4], "float64")])).actual).toBe('input "embedding" float64 [batch, 4]');
    expect(refusal(session([tensor("embedding", ["batch", 4]), tensor("mask", ["batch", 4])])).actual).toBe(
      'input "embedding" float32 [batch, 4], "mask" float32 [batch, 4]',
    );
    const noOutput = refusal(session([tensor("embedding", ["batch", 4])], []));
    expect(noOutput.message).toBe(
      'model does not match the scoring contract: expected output "prob_up" float32 [dynamic, 1]; the model has output none',
    );
    expect(refusal(session([{ name: "embedding", isTensor: false }])).actual).toBe('input "embedding" (not a tensor)');
    expect(refusal(session([tensor("embedding", [])])).actual).toBe('input "embedding" float32 []');
  });
});

describe("sha256Hex", () => {
  it("is the lower-case hex digest of bytes or text", () => {
    expect(sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(sha256Hex(new TextEncoder().encode("abc"))).toBe(sha256Hex("abc"));
  });
});
