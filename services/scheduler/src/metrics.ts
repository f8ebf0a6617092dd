import { Counter, Gauge, type Registry } from "@gapfill/kit";

/** The scheduler's Prometheus metrics, on the service's own registry. */
export function createSchedulerMetrics(registry: Registry) {
  const registers = [registry];
  return {
    published: new Counter({
      name: "scheduler_ticks_published_total",
      help: "Ticks this scheduler published (one per window across all schedulers)",
      labelNames: ["kind"] as const,
      registers,
    }),
    skipped: new Counter({
      name: "scheduler_ticks_skipped_total",
      help: "Windows whose tick was already there (another scheduler, an earlier run, or a tick published by hand)",
      labelNames: ["kind"] as const,
      registers,
    }),
    failures: new Counter({
      name: "scheduler_tick_failures_total",
      help: "Failed attempts to read or publish a tick (retried with backoff)",
      labelNames: ["kind"] as const,
      registers,
    }),
    lastWindow: new Gauge({
      name: "scheduler_last_window_start_seconds",
      help: "Start of the newest window this scheduler saw ticked (epoch seconds)",
      labelNames: ["kind"] as const,
      registers,
    }),
  };
}

export type SchedulerMetrics = ReturnType<typeof createSchedulerMetrics>;
