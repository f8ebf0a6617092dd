import { z } from "zod";
import { envInt, logLevelSchema, namespaceSchema, natsUrlSchema, symbolListSchema } from "./env.ts";

/** What every service reads: where NATS is, the namespace, the symbols, logging. */
export const commonEnv = {
  NATS_URL: natsUrlSchema,
  NATS_NAMESPACE: namespaceSchema,
  LOG_LEVEL: logLevelSchema,
  BINANCE_SYMBOL: symbolListSchema,
};

/** Settings of the streams and bucket that `ensureJetStream()` creates or updates at start (SPEC §5). */
export const jetstreamEnv = {
  BARS_MAX_AGE_HOURS: envInt(168, 1, 24 * 365 * 10),
  SESSION_TTL_SECONDS: envInt(1800, 60, 7 * 24 * 3600),
  /** Replicas of each stream and bucket: 1 on a single server, 3 on a 3-node cluster. */
  JETSTREAM_REPLICAS: envInt(1, 1, 5),
};

export const jetstreamConfigSchema = z.object({ ...commonEnv, ...jetstreamEnv });
export type JetStreamConfig = z.infer<typeof jetstreamConfigSchema>;
