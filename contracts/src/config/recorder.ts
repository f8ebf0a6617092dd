import { z } from "zod";
import { commonEnv, jetstreamEnv } from "./common.ts";
import { envInt, portSchema } from "./env.ts";
import { storeEnv } from "./store.ts";

export const recorderConfigSchema = z.object({
  ...commonEnv,
  ...jetstreamEnv,
  ...storeEnv,
  /** Upper bounds of one upsert batch: this many bars, or this long after its first bar. */
  RECORDER_BATCH_SIZE: envInt(1000, 1, 20_000),
  RECORDER_BATCH_MS: envInt(250, 1, 60_000),
  RECORDER_METRICS_PORT: portSchema(9102),
});
export type RecorderConfig = z.infer<typeof recorderConfigSchema>;
