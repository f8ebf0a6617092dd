/** The bytes are not a model onnxruntime can load (truncated, not ONNX, an unsupported opset). */
export class ModelLoadError extends Error {
  override name = "ModelLoadError";
}

/** The model loads but its inputs or outputs are not the scoring contract's; says what was expected and found. */
export class ModelContractError extends Error {
  override name = "ModelContractError";
  readonly expected: string;
  readonly actual: string;

  constructor(
    expected: string,
    actual: string,
  ) {
    super(`model does not match the scoring contract: expected ${expected}; the model has ${actual}`);
    this.expected = expected;
    this.actual = actual;
  }
}

/** A model produced outputs outside the contract (not finite, outside [0, 1], or the wrong count). */
export class ModelOutputError extends Error {
  override name = "ModelOutputError";
}
