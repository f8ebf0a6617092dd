import { z } from "zod";
import { envInt, logLevelSchema, namespaceSchema, natsUrlSchema, symbolListSchema } from "./env.ts";

/** Where NATS is and the namespace every stream, subject and bucket name carries. */
export const natsEnv = {
  NATS_URL: natsUrlSchema,
  NATS_NAMESPACE: namespaceSchema,
};

/** What every service reads: NATS, the symbols, logging. */
export const commonEnv = {
  ...natsEnv,
  LOG_LEVEL: logLevelSchema,
  BINANCE_SYMBOL: symbolListSchema,
};

/**
 * Where a service's /metrics, /healthz and /readyz listen (each service has its own port variable). Loopback by
 * default: operations data stays off the public interfaces unless asked for (compose sets 0.0.0.0 inside its network).
 */
export const metricsHostEnv = {
  METRICS_HOST: z.string().trim().min(1).default("127.0.0.1"),
};

/** Settings of the JetStream streams and bucket, read only by the provisioning step (`npm run provision`). */
export const topologyEnv = {
  BARS_MAX_AGE_HOURS: envInt(168, 1, 24 * 365 * 10),
  SESSION_TTL_SECONDS: envInt(1800, 60, 7 * 24 * 3600),
  /** Replicas of each stream and bucket: 1 on a single server, 3 on a 3-node cluster. */
  JETSTREAM_REPLICAS: envInt(1, 1, 5),
};

/** `npm run provision`: creates or updates every stream and bucket, then exits. */
export const provisionConfigSchema = z.object({ ...natsEnv, LOG_LEVEL: logLevelSchema, ...topologyEnv });
export type ProvisionConfig = z.infer<typeof provisionConfigSchema>;
