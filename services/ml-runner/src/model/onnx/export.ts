import { MODEL_INPUT_NAME, MODEL_OPSET, MODEL_OUTPUT_NAME } from "@gapfill/contracts";
import type { Mlp } from "../mlp.ts";
import { ModelProto, ONNX_ATTRIBUTE_INT, ONNX_FLOAT } from "./proto.ts";

/** IR version 8 is the one ONNX 1.12/1.13 pair with opset 17 (and what torch's exporter writes for it). */
export const ONNX_IR_VERSION = 8;
const BATCH_DIM = "batch";

/** Float32 little-endian bytes, as TensorProto.raw_data requires whatever the host's byte order. */
function float32Bytes(values: Float32Array): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  values.forEach((value, i) => view.setFloat32(i * 4, value, true));
  return bytes;
}

const initializer = (name: string, dims: number[], values: Float32Array) => ({
  name,
  dims,
  data_type: ONNX_FLOAT,
  raw_data: float32Bytes(values),
});

const floatMatrix = (name: string, columns: number) => ({
  name,
  type: { tensor_type: { elem_type: ONNX_FLOAT, shape: { dim: [{ dim_param: BATCH_DIM }, { dim_value: columns }] } } },
});

/** y = x·Bᵀ + c, B stored as [out, in] like the Mlp's weights. */
const gemm = (name: string, inputs: string[], output: string) => ({
  name,
  op_type: "Gemm",
  input: inputs,
  output: [output],
  attribute: [{ name: "transB", type: ONNX_ATTRIBUTE_INT, i: 1 }],
});

/**
 * The network as an ONNX model (Gemm → Relu → Gemm → Sigmoid, opset 17) taking `embedding` [batch, D] and giving
 * `prob_up` [batch, 1]. Nothing time- or host-dependent is written, so the same weights give the same bytes.
 */
export function mlpToOnnx(model: Mlp): Uint8Array {
  const graph = {
    name: "gapfill_prob_up",
    node: [
      gemm("hidden_gemm", [MODEL_INPUT_NAME, "w1", "b1"], "hidden_pre"),
      { name: "hidden_relu", op_type: "Relu", input: ["hidden_pre"], output: ["hidden"] },
      gemm("logit_gemm", ["hidden", "w2", "b2"], "logit"),
      { name: "prob_sigmoid", op_type: "Sigmoid", input: ["logit"], output: [MODEL_OUTPUT_NAME] },
    ],
    initializer: [
      initializer("w1", [model.hidden, model.dimension], model.w1),
      initializer("b1", [model.hidden], model.b1),
      initializer("w2", [1, model.hidden], model.w2),
      initializer("b2", [1], model.b2),
    ],
    input: [floatMatrix(MODEL_INPUT_NAME, model.dimension)],
    output: [floatMatrix(MODEL_OUTPUT_NAME, 1)],
  };
  return ModelProto.encode(
    ModelProto.fromObject({
      ir_version: ONNX_IR_VERSION,
      opset_import: [{ domain: "", version: MODEL_OPSET }],
      producer_name: "gapfill-ml-runner",
      graph,
    }),
  ).finish();
}
