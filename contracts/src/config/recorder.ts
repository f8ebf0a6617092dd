import { z } from "zod";
import { commonEnv, metricsHostEnv } from "./common.ts";
import { envInt, portSchema, whenFieldsValid } from "./env.ts";
import { refineStoreAccess, storeEnv } from "./store.ts";

export const recorderConfigSchema = z.object({
  ...commonEnv,
  ...metricsHostEnv,
  ...storeEnv,
  /** Upper bounds of one upsert batch: this many bars, or this long after its first bar. */
  RECORDER_BATCH_SIZE: envInt(1000, 1, 20_000),
  /** Longest wait after a batch's first bar before it is written. */
  RECORDER_BATCH_MS: envInt(250, 1, 60_000),
  /**
   * JetStream ack wait of the recorder's consumer: how long a bar handed to a recorder that died stays invisible
   * before another one gets it. A live recorder keeps its bars claimed however long the database is down.
   */
  RECORDER_ACK_WAIT_MS: envInt(30_000, 1000, 3_600_000),
  /** The recorder's metrics port (`0` = any free port). */
  RECORDER_METRICS_PORT: portSchema(9102),
}).superRefine(refineStoreAccess("write"), whenFieldsValid);
export type RecorderConfig = z.infer<typeof recorderConfigSchema>;
