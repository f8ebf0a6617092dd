import { BAR_MS } from "@gapfill/contracts";
import { Counter, Gauge, Histogram, type Registry } from "@gapfill/kit";

/** The embedder's Prometheus metrics, on the service's own registry. */
export function createEmbedderMetrics(registry: Registry) {
  const registers = [registry];
  /** Open time of the newest embedding written per symbol, for the lag gauge. */
  const newestTs = new Map<string, number>();
  return {
    newestTs,
    embeddingsWritten: new Counter({
      name: "embedder_embeddings_written_total",
      help: "Embeddings upserted into ai_outputs (replays included)",
      labelNames: ["symbol"] as const,
      registers,
    }),
    upsertSeconds: new Histogram({
      name: "embedder_upsert_seconds",
      help: "Time of one successful embeddings upsert",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    writeFailures: new Counter({
      name: "embedder_write_failures_total",
      help: "Failed embeddings upserts (retried with backoff; the bars stay in JetStream)",
      registers,
    }),
    historyReads: new Counter({
      name: "embedder_history_reads_total",
      help: "Reads of bars before the delivered ones from the stream, to rebuild a window (after a start, a restart or a gap)",
      registers,
    }),
    invalidMessages: new Counter({
      name: "embedder_invalid_messages_total",
      help: "Messages that are not closed bars: logged and terminated, never retried",
      registers,
    }),
    backlog: new Gauge({
      name: "embedder_backlog_messages",
      help: "Bars in the stream not yet delivered to the embedder (consumer pending after the last batch)",
      registers,
    }),
    lagSeconds: new Gauge({
      name: "embedder_lag_seconds",
      help: "Now minus the close of the bar of the newest embedding written, per symbol",
      labelNames: ["symbol"] as const,
      registers,
      collect() {
        for (const [symbol, ts] of newestTs) this.set({ symbol }, (Date.now() - ts - BAR_MS) / 1000);
      },
    }),
  };
}

export type EmbedderMetrics = ReturnType<typeof createEmbedderMetrics>;
