import { Counter, Gauge, Histogram, type Registry } from "@gapfill/kit";

/** ml-runner's Prometheus metrics, on the service's own registry. */
export function createRunnerMetrics(registry: Registry) {
  const registers = [registry];
  return {
    runs: new Counter({
      name: "ml_runner_runs_total",
      help: "Retrain runs ended, by outcome: promoted, rejected (the gate kept the published model), skipped (too little data), failed (given up)",
      labelNames: ["outcome"] as const,
      registers,
    }),
    attemptFailures: new Counter({
      name: "ml_runner_attempt_failures_total",
      help: "Run attempts that failed, by step (the tick is delivered again until ML_MAX_DELIVERIES)",
      labelNames: ["step"] as const,
      registers,
    }),
    stepSeconds: new Histogram({
      name: "ml_runner_step_seconds",
      help: "Duration of a run step that completed: export, train, evaluate, publish",
      labelNames: ["step"] as const,
      buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600],
      registers,
    }),
    rowsExported: new Counter({ name: "ml_runner_rows_exported_total", help: "Labelled training rows written by exports", registers }),
    runInProgress: new Gauge({ name: "ml_runner_run_in_progress", help: "1 while this runner works on a tick", registers }),
  };
}

export type RunnerMetrics = ReturnType<typeof createRunnerMetrics>;
