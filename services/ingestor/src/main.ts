/** Entry point: config → NATS → streams → ingestor → /metrics → shutdown on SIGTERM/SIGINT. */
import { ingestorConfigSchema } from "@gapfill/contracts";
import {
  connectNats,
  createLogger,
  createMetricsRegistry,
  ensureJetStream,
  handleShutdown,
  shutdownWhenRejected,
  jetStreamSettingsFrom,
  loadConfigOrExit,
  serveMetrics,
} from "@gapfill/kit";
import { startIngestor } from "./index.ts";

const config = loadConfigOrExit(ingestorConfigSchema, "ingestor");
const log = createLogger({ service: "ingestor", level: config.LOG_LEVEL });
const nc = await connectNats({ url: config.NATS_URL, name: "gapfill-ingestor", log });
await ensureJetStream(nc, jetStreamSettingsFrom(config), log);
const registry = createMetricsRegistry("ingestor");
const ingestor = await startIngestor({ config, nc, log, registry });
const metrics = await serveMetrics(registry, config.INGESTOR_METRICS_PORT);
log.info(
  { symbols: config.BINANCE_SYMBOL, rest: config.BINANCE_REST_URL, ws: config.BINANCE_WS_URL, metricsPort: metrics.port },
  "ingestor started",
);
const shutdown = handleShutdown(log, [
  { name: "ingestor", close: () => ingestor.stop() },
  { name: "metrics", close: () => metrics.close() },
  { name: "nats", close: () => nc.drain() },
]);
shutdownWhenRejected(ingestor.failed, "ingestor", log, shutdown);
