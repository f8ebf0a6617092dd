import { trainingHyperparametersSchema } from "@gapfill/contracts";
import { loadScoringModel, ModelContractError, ModelLoadError, ModelOutputError } from "@gapfill/kit";
import { describe, expect, it } from "vitest";
import { labelledRows, mlpToOnnx, ModelProto, ONNX_IR_VERSION, predict, trainMlp } from "../src/index.ts";
import { syntheticRows } from "./synthetic-rows.ts";

const DIM = 8;
const rows = labelledRows(syntheticRows({ seed: 11, count: 1_500, dimension: DIM }), DIM);
const { model } = trainMlp(rows, { ...trainingHyperparametersSchema.parse({}), hidden: 6, epochs: 3 });
const bytes = mlpToOnnx(model);

type Dim = { dim_value?: number; dim_param?: string };
type ValueInfo = { name: string; type: { tensor_type: { shape: { dim: Dim[] } } } };
type Initializer = { name: string; dims: number[]; raw_data: Uint8Array };
type ModelObject = {
  ir_version: number;
  opset_import: unknown[];
  graph: { node: { op_type: string; input: string[]; output: string[] }[]; input: ValueInfo[]; output: ValueInfo[]; initializer: Initializer[] };
};

function read(onnx: Uint8Array): ModelObject {
  return ModelProto.toObject(ModelProto.decode(onnx), { longs: Number }) as ModelObject;
}

/** The model file as a plain object, to edit one thing and write it back. */
function edited(change: (model: ModelObject) => void): Uint8Array {
  const object = read(bytes);
  change(object);
  return ModelProto.encode(ModelProto.fromObject(object)).finish();
}

async function contractError(onnx: Uint8Array, dimension = DIM): Promise<ModelContractError> {
  const error = await loadScoringModel(onnx, dimension).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ModelContractError);
  return error as ModelContractError;
}

describe("ONNX export", () => {
  it("writes Gemm → Relu → Gemm → Sigmoid at opset 17 with float32 raw_data weights and a dynamic batch", () => {
    const written = read(bytes);
    expect(written.ir_version).toBe(ONNX_IR_VERSION);
    expect(written.opset_import).toEqual([{ domain: "", version: 17 }]);
    expect(written.graph.node.map((n) => n.op_type)).toEqual(["Gemm", "Relu", "Gemm", "Sigmoid"]);
    expect(written.graph.input[0]!.type.tensor_type.shape.dim).toEqual([{ dim_param: "batch" }, { dim_value: DIM }]);
    const w1 = written.graph.initializer[0]!;
    expect(w1.dims).toEqual([6, DIM]);
    expect(new Float32Array(new Uint8Array(w1.raw_data).buffer)).toEqual(model.w1);
  });

  it("scores in onnxruntime as the in-process forward pass does", async () => {
    const scorer = await loadScoringModel(bytes, DIM);
    try {
      const expected = predict(model, rows.embeddings);
      const scored = await scorer.score(rows.embeddings);
      expect(scored).toHaveLength(rows.count);
      let worst = 0;
      for (let i = 0; i < rows.count; i++) worst = Math.max(worst, Math.abs(scored[i]! - expected[i]!));
      expect(worst).toBeLessThan(1e-5);
      const firstTwo = [Array.from(rows.embeddings.subarray(0, DIM)), Array.from(rows.embeddings.subarray(DIM, 2 * DIM))];
      expect(Array.from(await scorer.score(firstTwo))).toEqual(Array.from(scored.subarray(0, 2)));
      expect(await scorer.score(new Float32Array(0))).toHaveLength(0);
      await expect(scorer.score([[1, 2]])).rejects.toThrow(/embedding 0 has 2 numbers, expected 8/);
    } finally {
      await scorer.release();
    }
  });
});

describe("scoring contract check", () => {
  it("refuses another input name", async () => {
    const renamed = edited((m) => {
      m.graph.input[0]!.name = "features";
      m.graph.node[0]!.input[0] = "features";
    });
    const error = await contractError(renamed);
    expect(error.message).toBe(
      'model does not match the scoring contract: expected input "embedding" float32 [dynamic, 8]; the model has input "features" float32 [batch, 8]',
    );
  });

  it("refuses another embedding dimension, naming both", async () => {
    expect((await contractError(bytes, 32)).message).toMatch(/expected input "embedding" float32 \[dynamic, 32\]; the model has input "embedding" float32 \[batch, 8\]/);
  });

  it("refuses a fixed batch size", async () => {
    const fixed = edited((m) => {
      m.graph.input[0]!.type.tensor_type.shape.dim[0] = { dim_value: 1 };
    });
    expect((await contractError(fixed)).actual).toBe('input "embedding" float32 [1, 8]');
  });

  it("refuses an output of another shape", async () => {
    const twoOutputs = edited((m) => {
      const [, , w2, b2] = m.graph.initializer as [Initializer, Initializer, Initializer, Initializer];
      w2.dims = [2, 6];
      w2.raw_data = new Uint8Array([...w2.raw_data, ...w2.raw_data]);
      b2.dims = [2];
      b2.raw_data = new Uint8Array([...b2.raw_data, ...b2.raw_data]);
      m.graph.output[0]!.type.tensor_type.shape.dim[1] = { dim_value: 2 };
    });
    const error = await contractError(twoOutputs);
    expect(error.expected).toBe('output "prob_up" float32 [dynamic, 1]');
    expect(error.actual).toBe('output "prob_up" float32 [batch, 2]');
  });

  it("gives a ModelLoadError for bytes that are not a model", async () => {
    await expect(loadScoringModel(new TextEncoder().encode("definitely not onnx"), DIM)).rejects.toThrow(ModelLoadError);
    await expect(loadScoringModel(bytes.subarray(0, bytes.length >> 1), DIM)).rejects.toThrow(/not a loadable ONNX model/);
    await expect(loadScoringModel(new Uint8Array(0), DIM)).rejects.toThrow(ModelLoadError);
  });

  it("refuses outputs outside [0, 1] when scoring", async () => {
    // The graph without its Sigmoid and with the output bias raised to 50: prob_up is a logit of about 50.
    const logits = edited((m) => {
      m.graph.node.pop();
      m.graph.node[2]!.output[0] = "prob_up";
      m.graph.initializer[3]!.raw_data = new Uint8Array(Float32Array.of(50).buffer);
    });
    const scorer = await loadScoringModel(logits, DIM);
    try {
      await expect(scorer.score(rows.embeddings)).rejects.toThrow(ModelOutputError);
      await expect(scorer.score(rows.embeddings)).rejects.toThrow(/^prob_up\[0\] is [\d.]+: expected a finite number in \[0, 1\]$/);
    } finally {
      await scorer.release();
    }
  });
});
