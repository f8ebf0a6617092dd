import type { z } from "zod";
import { provisionConfigSchema } from "./common.ts";
import { gatewayConfigSchema } from "./gateway.ts";
import { ingestorConfigSchema } from "./ingestor.ts";
import { embedderConfigSchema, schedulerConfigSchema } from "./ml.ts";
import { mlInferConfigSchema } from "./ml-infer.ts";
import { mlRunnerConfigSchema } from "./ml-runner.ts";
import { recorderConfigSchema } from "./recorder.ts";
import { simConfigSchema } from "./sim.ts";
import { stackConfigSchema } from "./stack.ts";

/**
 * Every process's configuration schema, in the order the stack starts them: what docs/configuration.md is generated
 * from (`npm run docs:config`).
 */
export const CONFIG_SCHEMAS: readonly { process: string; schema: z.ZodObject }[] = [
  { process: "provision", schema: provisionConfigSchema },
  { process: "ingestor", schema: ingestorConfigSchema },
  { process: "recorder", schema: recorderConfigSchema },
  { process: "gateway", schema: gatewayConfigSchema },
  { process: "scheduler", schema: schedulerConfigSchema },
  { process: "embedder", schema: embedderConfigSchema },
  { process: "ml-runner", schema: mlRunnerConfigSchema },
  { process: "ml-infer", schema: mlInferConfigSchema },
  { process: "binance-sim", schema: simConfigSchema },
  { process: "stack", schema: stackConfigSchema },
];
