import { Counter, Gauge, Histogram, type Registry } from "@gapfill/kit";

/** The recorder's Prometheus metrics, on the service's own registry. */
export function createRecorderMetrics(registry: Registry) {
  const registers = [registry];
  return {
    barsRecorded: new Counter({
      name: "recorder_bars_recorded_total",
      help: "Bars upserted into price_15s and acknowledged to JetStream (replays included)",
      labelNames: ["symbol"] as const,
      registers,
    }),
    batches: new Counter({ name: "recorder_batches_total", help: "Batches committed (one upsert each)", registers }),
    upsertSeconds: new Histogram({
      name: "recorder_upsert_seconds",
      help: "Time of one successful batch upsert",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    writeFailures: new Counter({
      name: "recorder_write_failures_total",
      help: "Failed batch upserts (each is retried with backoff; the bars stay in JetStream)",
      registers,
    }),
    storeUp: new Gauge({ name: "recorder_store_up", help: "1 when the last write or lag check reached the store, else 0", registers }),
    invalidMessages: new Counter({
      name: "recorder_invalid_messages_total",
      help: "Messages that are not closed bars: logged and terminated, never retried",
      registers,
    }),
    backlog: new Gauge({
      name: "recorder_backlog_messages",
      help: "Bars in the stream not yet delivered to the recorder (consumer pending after the last batch)",
      registers,
    }),
    lagSeconds: new Gauge({
      name: "recorder_lag_seconds",
      help: "Newest bar in the stream minus the newest row in the table, per symbol",
      labelNames: ["symbol"] as const,
      registers,
    }),
  };
}

export type RecorderMetrics = ReturnType<typeof createRecorderMetrics>;
