import { schedulerConfigSchema } from "@gapfill/contracts";
import type { NatsServiceSpec } from "@gapfill/kit";
import { startScheduler } from "./scheduler.ts";

/** Retrain and infer ticks, one per interval window however many schedulers run. */
export const schedulerService: NatsServiceSpec<typeof schedulerConfigSchema> = {
  name: "scheduler",
  configSchema: schedulerConfigSchema,
  needs: ["mlTicks"],
  metrics: (config) => ({ port: config.SCHEDULER_METRICS_PORT, host: config.METRICS_HOST }),
  start: ({ config, nc, log, registry }) => startScheduler({ config, nc, log, registry }),
};
