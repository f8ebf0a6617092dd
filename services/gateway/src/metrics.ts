import { Counter, Gauge, Histogram, type Registry } from "@gapfill/kit";

export interface GatewayMetrics {
  registry: Registry;
  sessionsStarted: Counter;
  sessionsStopped: Counter;
  streamsOpen: Gauge;
  streamEnds: Counter<"reason">;
  barsSent: Counter;
  slowConsumers: Counter;
  httpDuration: Histogram<"method" | "route" | "status">;
  pageCache: Counter<"result">;
  storeReads: Counter<"query">;
  connectionsRefused: Counter<"reason">;
}

export function createGatewayMetrics(registry: Registry): GatewayMetrics {
  return {
    registry,
    sessionsStarted: new Counter({ name: "gateway_sessions_started_total", help: "Sessions started", registers: [registry] }),
    sessionsStopped: new Counter({ name: "gateway_sessions_stopped_total", help: "Sessions stopped by their owner", registers: [registry] }),
    streamsOpen: new Gauge({ name: "gateway_sse_streams_open", help: "Gap streams open on this process", registers: [registry] }),
    streamEnds: new Counter({
      name: "gateway_sse_stream_ends_total",
      help: "Gap streams ended, by reason (client_closed when the client went away)",
      labelNames: ["reason"],
      registers: [registry],
    }),
    barsSent: new Counter({ name: "gateway_bars_sent_total", help: "Closed bars written to gap streams", registers: [registry] }),
    slowConsumers: new Counter({
      name: "gateway_slow_consumers_total",
      help: "Gap streams ended because the client did not read fast enough",
      registers: [registry],
    }),
    pageCache: new Counter({
      name: "gateway_bootstrap_cache_lookups_total",
      help: "Bootstrap page requests answered from the encoded page cache (hit) or not (miss)",
      labelNames: ["result"],
      registers: [registry],
    }),
    storeReads: new Counter({
      name: "gateway_store_reads_total",
      help:
        "Store reads: bootstrap pages (page) and seams (seam) of price_15s, each shared by the requests waiting for it, " +
        "and ml_predictions reads of GET /predictions (predictions)",
      labelNames: ["query"],
      registers: [registry],
    }),
    connectionsRefused: new Counter({
      name: "gateway_connections_refused_total",
      help: "Connections answered and closed at once: MAX_CONNECTIONS reached (server_full) or MAX_CONNECTIONS_PER_IP (address_full)",
      labelNames: ["reason"],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: "gateway_http_request_duration_seconds",
      help: "HTTP request latency (SSE streams excluded)",
      labelNames: ["method", "route", "status"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
  };
}
