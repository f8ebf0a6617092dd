import { Counter, Gauge, Histogram, type Registry } from "@gapfill/kit";

/** ml-infer's Prometheus metrics, on the service's own registry. */
export function createInferMetrics(registry: Registry) {
  const registers = [registry];
  return {
    modelLoaded: new Gauge({
      name: "ml_infer_model_loaded",
      help: "1 for the model version in use (label version); no series until a model is loaded",
      labelNames: ["version"] as const,
      registers,
    }),
    predictions: new Counter({
      name: "ml_infer_predictions_total",
      help: "Predictions published and stored, by symbol",
      labelNames: ["symbol"] as const,
      registers,
    }),
    loadFailures: new Counter({
      name: "ml_infer_model_load_failures_total",
      help:
        "Attempts to load the model MODEL_JSON names that failed, by reason: no_model, manifest, store, missing, sha256, " +
        "load, contract, output (the previous model keeps serving)",
      labelNames: ["reason"] as const,
      registers,
    }),
    scoringSeconds: new Histogram({
      name: "ml_infer_scoring_seconds",
      help: "onnxruntime time to score one batch (every symbol's new embeddings of a pass)",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    passFailures: new Counter({
      name: "ml_infer_pass_failures_total",
      help: "Scoring passes that failed, by step: read (embeddings, cursor), score, publish, store, other",
      labelNames: ["step"] as const,
      registers,
    }),
  };
}

export type InferMetrics = ReturnType<typeof createInferMetrics>;
