import { Counter, Gauge, type Registry } from "@gapfill/kit";

/**
 * The ingestor's Prometheus metrics, registered on the service's own registry. `lastBarLags` is read at each
 * scrape: per symbol, seconds between now and the end of the last bar published.
 */
export function createIngestorMetrics(registry: Registry, lastBarLags: () => Iterable<[string, number]>) {
  const registers = [registry];
  return {
    tradesIn: new Counter({
      name: "ingestor_trades_in_total",
      help: "Aggregate trades received, by symbol and source (ws, rest), before de-duplication by id",
      labelNames: ["symbol", "source"] as const,
      registers,
    }),
    tradesDuplicate: new Counter({
      name: "ingestor_trades_duplicate_total",
      help: "Aggregate trades dropped because their id was already seen",
      labelNames: ["symbol"] as const,
      registers,
    }),
    tradesFuture: new Counter({
      name: "ingestor_trades_future_total",
      help: "Aggregate trades dropped because their time was more than 5 s past market time",
      labelNames: ["symbol"] as const,
      registers,
    }),
    barsPublished: new Counter({
      name: "ingestor_bars_published_total",
      help: "Closed bars acknowledged by JetStream (including ones another ingestor had already stored)",
      labelNames: ["symbol"] as const,
      registers,
    }),
    publishConflicts: new Counter({
      name: "ingestor_publish_conflicts_total",
      help: "Bars refused for a wrong last subject sequence: another ingestor had published first",
      labelNames: ["symbol"] as const,
      registers,
    }),
    repairs: new Counter({
      name: "ingestor_repairs_total",
      help: "REST catch-ups by id, by reason (gap, reconnect, quiet close, poll, join)",
      labelNames: ["symbol", "reason"] as const,
      registers,
    }),
    restRequests: new Counter({
      name: "ingestor_rest_requests_total",
      help: "Binance REST responses by endpoint and HTTP status",
      labelNames: ["endpoint", "status"] as const,
      registers,
    }),
    restWeightUsed: new Gauge({
      name: "ingestor_rest_weight_used",
      help: "X-MBX-USED-WEIGHT-1M of the last REST response (the IP's weight used in the current minute)",
      registers,
    }),
    wsReconnects: new Counter({
      name: "ingestor_ws_reconnects_total",
      help: "WebSocket connections opened after the first",
      registers,
    }),
    clockOffset: new Gauge({
      name: "ingestor_clock_offset_seconds",
      help: "Binance's clock minus the host's, as last measured; market time is corrected by it",
      registers,
    }),
    lastBarLag: new Gauge({
      name: "ingestor_last_bar_lag_seconds",
      help: "Time between now and the end of the last bar published, per symbol",
      labelNames: ["symbol"] as const,
      registers,
      collect() {
        for (const [symbol, lag] of lastBarLags()) this.set({ symbol }, lag);
      },
    }),
  };
}

export type IngestorMetrics = ReturnType<typeof createIngestorMetrics>;
