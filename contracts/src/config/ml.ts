import { z } from "zod";
import { DEFAULT_EMBED_EVERY_BARS, DEFAULT_EMBED_WINDOW_BARS } from "../features.ts";
import { logEnv, metricsHostEnv, natsEnv } from "./common.ts";
import { envBool, envInt, portSchema, whenFieldsValid } from "./env.ts";
import { refineStoreAccess, storeEnv } from "./store.ts";

/** The scheduler: one retrain and one infer tick per interval window, windows aligned to the epoch. */
export const schedulerConfigSchema = z.object({
  ...natsEnv,
  ...metricsHostEnv,
  ...logEnv,
  /** Seconds between two retrain ticks. */
  ML_INTERVAL_SECONDS: envInt(3600, 1, 7 * 24 * 3600),
  /** Seconds between two infer ticks. */
  INFER_INTERVAL_SECONDS: envInt(600, 1, 7 * 24 * 3600),
  /** The scheduler's metrics port (`0` = any free port). */
  SCHEDULER_METRICS_PORT: portSchema(9104),
});
export type SchedulerConfig = z.infer<typeof schedulerConfigSchema>;

/** Largest EMBED_EVERY_BARS / EMBED_WINDOW_BARS: one day of 15 s bars. */
const MAX_EMBED_BARS = 5760;

/** The built-in producer of `ai_outputs`: bars stream → embeddings. */
export const embedderConfigSchema = z
  .object({
    ...natsEnv,
    ...metricsHostEnv,
    ...logEnv,
    ...storeEnv,
    /** Off leaves `ai_outputs` to an external producer: the service then starts, says so, and does nothing. */
    EMBEDDER: envBool(true),
    /** An embedding for every this-many bars of a symbol, counted from the epoch (4 = one a minute). */
    EMBED_EVERY_BARS: envInt(DEFAULT_EMBED_EVERY_BARS, 1, MAX_EMBED_BARS),
    /** Bars an embedding is computed from, ending with the bar it is stamped with (240 = one hour). */
    EMBED_WINDOW_BARS: envInt(DEFAULT_EMBED_WINDOW_BARS, 1, MAX_EMBED_BARS),
    /**
     * JetStream ack wait of the embedder's consumer: how long bars handed to an embedder that died stay invisible
     * before they are delivered again. A live embedder keeps its batch claimed however long the store is down.
     */
    EMBEDDER_ACK_WAIT_MS: envInt(30_000, 1000, 3_600_000),
    /** The embedder's metrics port (`0` = any free port). */
    EMBEDDER_METRICS_PORT: portSchema(9105),
  })
  // A disabled embedder opens no store, so a read-only key is no reason to refuse it.
  .superRefine((config, ctx) => {
    if (config.EMBEDDER) refineStoreAccess("write")(config, ctx);
  }, whenFieldsValid);
export type EmbedderConfig = z.infer<typeof embedderConfigSchema>;
