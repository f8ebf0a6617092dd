import { describe, expect, it } from "vitest";
import {
  describeIssues,
  modelManifestSchema,
  nextTickWindowStart,
  predictionEventSchema,
  predictionMsgId,
  sessionRecordSchema,
  sseEventSchemas,
  tickEventSchema,
  tickMsgId,
  tickWindowStart,
} from "../src/index.ts";

describe("tick events", () => {
  it("accept an aligned window and reject an unaligned one", () => {
    const window_start = tickWindowStart(1_700_000_123_456, 3600);
    expect(window_start % 3_600_000).toBe(0);
    expect(tickEventSchema.parse({ kind: "retrain", window_start, interval_s: 3600 }).kind).toBe("retrain");
    const bad = tickEventSchema.safeParse({ kind: "retrain", window_start: window_start + 1, interval_s: 3600 });
    expect(describeIssues(bad.error!)).toMatch(/^window_start: must be a multiple/);
    expect(describeIssues(tickEventSchema.safeParse({ kind: "deploy", window_start, interval_s: 1 }).error!)).toMatch(/^kind: /);
    expect(tickMsgId({ kind: "infer", window_start })).toBe(`infer:${window_start}`);
  });

  it("start at the epoch-aligned boundary at or before now; the next one is due an interval later", () => {
    expect(tickWindowStart(10_000, 2)).toBe(10_000);
    expect(tickWindowStart(11_999, 2)).toBe(10_000);
    expect(nextTickWindowStart(10_000, 2)).toBe(12_000);
    expect(nextTickWindowStart(11_999, 2)).toBe(12_000);
  });
});

describe("prediction events", () => {
  const prediction = {
    symbol: "BTCUSDT",
    ts: 1_700_000_010_000 - (1_700_000_010_000 % 15_000),
    prob_up: 0.25,
    model_version: "retrain-20261201T130000Z",
    scored_at: "2026-12-01T13:00:31.502Z",
  };

  it("carry a bar time, a probability, a model version and when it was scored; name what is wrong", () => {
    expect(predictionEventSchema.parse(prediction)).toEqual(prediction);
    expect(describeIssues(predictionEventSchema.safeParse({ ...prediction, ts: prediction.ts + 1 }).error!)).toMatch(/^ts: must be a multiple of 15000/);
    expect(describeIssues(predictionEventSchema.safeParse({ ...prediction, prob_up: 1.5 }).error!)).toMatch(/^prob_up: /);
    expect(describeIssues(predictionEventSchema.safeParse({ ...prediction, model_version: "a/b" }).error!)).toMatch(/^model_version: /);
    expect(predictionEventSchema.safeParse({ ...prediction, extra: 1 }).success).toBe(false);
  });

  it("are identified by symbol, bar time and model version", () => {
    const id = predictionMsgId(prediction.symbol, prediction.ts, prediction.model_version);
    expect(id).toBe(`prediction:BTCUSDT:${prediction.ts}:retrain-20261201T130000Z`);
    expect(predictionMsgId("BTCUSDT", prediction.ts, "retrain-20261201T140000Z")).not.toBe(id);
    expect(predictionMsgId("ETHUSDT", prediction.ts, prediction.model_version)).not.toBe(id);
  });
});

describe("session record", () => {
  const record = {
    session_id: "A".repeat(32),
    sub: "user-1",
    symbol: "BTCUSDT",
    supabase_last_ts: 1_700_000_010_000 - (1_700_000_010_000 % 15_000),
    created_at: 1,
    expires_at: 2,
    stopped_at: null,
  };
  it("round-trips and names bad fields", () => {
    expect(sessionRecordSchema.parse(record)).toEqual(record);
    expect(describeIssues(sessionRecordSchema.safeParse({ ...record, session_id: "short" }).error!)).toMatch(/^session_id: /);
    expect(describeIssues(sessionRecordSchema.safeParse({ ...record, sub: "" }).error!)).toMatch(/^sub: /);
  });
});

describe("SSE payloads", () => {
  it("end events carry one of the documented reasons", () => {
    expect(sseEventSchemas.end.parse({ reason: "slow_consumer", last_ts: null }).reason).toBe("slow_consumer");
    expect(describeIssues(sseEventSchemas.end.safeParse({ reason: "bored", last_ts: null }).error!)).toMatch(/^reason: /);
    expect(sseEventSchemas.live.parse({ last_ts: 15_000, server_time: 20_000 }).last_ts).toBe(15_000);
  });
});

describe("model manifest", () => {
  const manifest = {
    version: "20261126T050000Z",
    created_at: "2026-11-26T05:00:00Z",
    artifacts: { onnx: "model/20261126T050000Z/model.onnx" },
    sha256: { onnx: "a".repeat(64) },
    input: { name: "embedding", dims: [-1, 32] },
    output: { name: "prob_up", dims: [-1, 1] },
    metrics: { log_loss: 0.68, auc: null },
    trainer: { kind: "local", job_name: null, instance_type: null },
  };
  it("validates latest.json and names what is wrong", () => {
    expect(modelManifestSchema.parse(manifest).version).toBe(manifest.version);
    expect(describeIssues(modelManifestSchema.safeParse({ ...manifest, artifacts: {} }).error!)).toMatch(/^artifacts: must include an onnx/);
    expect(describeIssues(modelManifestSchema.safeParse({ ...manifest, sha256: { onnx: "xyz" } }).error!)).toMatch(/^sha256.onnx: /);
    expect(describeIssues(modelManifestSchema.safeParse({ ...manifest, version: "../x" }).error!)).toMatch(/^version: /);
    const renamed = { ...manifest, output: { name: "prediction", dims: [-1, 1] } };
    expect(describeIssues(modelManifestSchema.safeParse(renamed).error!)).toMatch(/^output.name: /);
    const fixedBatch = { ...manifest, input: { name: "embedding", dims: [8, 32] } };
    expect(describeIssues(modelManifestSchema.safeParse(fixedBatch).error!)).toMatch(/^input.dims.0: /);
  });
});
