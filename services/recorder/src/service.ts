import { recorderConfigSchema } from "@gapfill/contracts";
import { openStoreWhenReachable, type NatsServiceSpec } from "@gapfill/kit";
import { DEFAULT_TUNING, startRecorder } from "./recorder.ts";

/** Bars stream → `price_15s`, so the table catches up by itself. */
export const recorderService: NatsServiceSpec<typeof recorderConfigSchema> = {
  name: "recorder",
  configSchema: recorderConfigSchema,
  needs: ["bars"],
  metrics: (config) => ({ port: config.RECORDER_METRICS_PORT, host: config.METRICS_HOST }),
  start: async ({ config, nc, log, registry, signal }) => {
    const store = await openStoreWhenReachable(config, { log, access: "write", applicationName: "gapfill-recorder", retry: DEFAULT_TUNING.retry, signal });
    const recorder = await startRecorder({ config, nc, store, log, registry }).catch(async (error: unknown) => {
      await store.close();
      throw error;
    });
    log.info({ store: store.kind }, "recording bars");
    return {
      ready: recorder.ready,
      done: recorder.done,
      stop: async () => {
        await recorder.stop();
        await store.close();
      },
    };
  },
};
