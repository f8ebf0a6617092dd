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

export const mlRunnerConfigSchema = z.object({
  ...commonEnv,
  ...storeEnv,
  ...objectStoreEnv,
  TRAIN_PREFIX: z.string().trim().min(1).default("train"),
  MODEL_PREFIX: z.string().trim().min(1).default("model"),
  /** When unset, training runs locally instead of on SageMaker. */
  SAGEMAKER_ROLE_ARN: z.string().regex(/^arn:aws[\w-]*:iam::\d{12}:role\/.+$/, "expected an IAM role ARN").optional(),
  SM_TRAIN_INSTANCE: z.string().trim().min(1).default("ml.g4dn.xlarge"),
  SM_FRAMEWORK_VERSION: z.string().trim().min(1).default("2.2"),
});
export type MlRunnerConfig = z.infer<typeof mlRunnerConfigSchema>;

export const mlInferConfigSchema = z.object({
  ...commonEnv,
  ...storeEnv,
  ...objectStoreEnv,
  MODEL_JSON: z.string().trim().min(1).default("model/latest.json"),
});
export type MlInferConfig = z.infer<typeof mlInferConfigSchema>;
