import { z } from "zod";
import { commonEnv } from "./common.ts";
import { envInt } from "./env.ts";
import { objectStoreEnv } from "./objects.ts";
import { storeEnv } from "./store.ts";

export const schedulerConfigSchema = z.object({
  ...commonEnv,
  ML_INTERVAL_SECONDS: envInt(3600, 1, 7 * 24 * 3600),
  INFER_INTERVAL_SECONDS: envInt(600, 1, 7 * 24 * 3600),
});
export type SchedulerConfig = z.infer<typeof schedulerConfigSchema>;

export const mlInferConfigSchema = z.object({
  ...commonEnv,
  ...storeEnv,
  ...objectStoreEnv,
  MODEL_JSON: z.string().trim().min(1).default("model/latest.json"),
});
export type MlInferConfig = z.infer<typeof mlInferConfigSchema>;
