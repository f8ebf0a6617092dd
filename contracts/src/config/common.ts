import { z } from "zod";
import { envInt, logFormatSchema, logLevelSchema, namespaceSchema, natsUrlSchema, symbolListSchema } from "./env.ts";

/** Where NATS is and the namespace every stream, subject and bucket name carries. */
export const natsEnv = {
  /** NATS server(s) with JetStream: `nats://host:port`, or a comma list of a cluster's servers. */
  NATS_URL: natsUrlSchema,
  /**
   * Prefix of every stream (`<ns>_BARS`), subject (`<ns>.bars.15s.…`) and bucket, and of the local store's files and
   * object folders, so tests and deployments can share one server and one DATA_DIR.
   */
  NATS_NAMESPACE: namespaceSchema,
};

/** How every process logs. */
export const logEnv = {
  /** Least severity logged: fatal, error, warn, info, debug, trace, or silent. */
  LOG_LEVEL: logLevelSchema,
  /** `json` (one object per line) or `pretty`; unset: pretty on a terminal, else json. */
  LOG_FORMAT: logFormatSchema,
};

/** What every service reads: NATS, the symbols, logging. */
export const commonEnv = {
  ...natsEnv,
  ...logEnv,
  /** The symbol, or a comma list of symbols (case-insensitive). */
  BINANCE_SYMBOL: symbolListSchema,
};

/**
 * Where a service's /metrics, /healthz and /readyz listen (each service has its own port variable). Loopback by
 * default: operations data stays off the public interfaces unless asked for (compose sets 0.0.0.0 inside its network).
 */
export const metricsHostEnv = {
  /** Interface of the process's metrics port (`/metrics`, `/healthz`, `/readyz`); loopback unless asked for. */
  METRICS_HOST: z.string().trim().min(1).default("127.0.0.1"),
};

/** Settings of the JetStream streams and bucket, read only by the provisioning step (`npm run provision`). */
export const topologyEnv = {
  /** How long the bars stream keeps closed bars (its max age). */
  BARS_MAX_AGE_HOURS: envInt(168, 1, 24 * 365 * 10),
  /** TTL of the sessions bucket: how long a session lives (the gateway reads it from the bucket). */
  SESSION_TTL_SECONDS: envInt(1800, 60, 7 * 24 * 3600),
  /** Replicas of each stream and bucket: 1 on a single server, 3 on a 3-node cluster. */
  JETSTREAM_REPLICAS: envInt(1, 1, 5),
};

/** `npm run provision`: creates or updates every stream and bucket, then exits. */
export const provisionConfigSchema = z.object({ ...natsEnv, ...logEnv, ...topologyEnv });
export type ProvisionConfig = z.infer<typeof provisionConfigSchema>;
