import { z } from "zod";
import { commonEnv, metricsHostEnv } from "./common.ts";
import { envInt, envNumber, envUrl, portSchema } from "./env.ts";

export const ingestorConfigSchema = z.object({
  ...commonEnv,
  ...metricsHostEnv,
  /** Market-data-only hosts by default; point both at the simulator to run offline. */
  BINANCE_REST_URL: envUrl(["http", "https"]).default("https://data-api.binance.vision"),
  /** Binance WebSocket base URL (market-data-only host by default; the simulator's `ws://` URL offline). */
  BINANCE_WS_URL: envUrl(["ws", "wss"]).default("wss://data-stream.binance.vision"),
  /** History to build when the stream has no bars yet (bounded by the stream's retention). */
  INGEST_BACKFILL_HOURS: envNumber(24, 0, 24 * 365),
  /** REST aggTrades polling interval while the WebSocket is down. */
  GAP_STREAM_SLEEP_SECONDS: envNumber(1.5, 0.1, 60),
  /** How long after a quiet bar's end a timer closes it (a later trade closes it at once). */
  BAR_CLOSE_GRACE_MS: envInt(1000, 0, 60_000),
  /** Prometheus /metrics port; 0 picks any free port. */
  INGESTOR_METRICS_PORT: portSchema(9101),
});
export type IngestorConfig = z.infer<typeof ingestorConfigSchema>;
