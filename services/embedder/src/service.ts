import { embedderConfigSchema } from "@gapfill/contracts";
import { openStoreWhenReachable, type NatsServiceSpec } from "@gapfill/kit";
import { DEFAULT_EMBEDDER_TUNING, startEmbedder } from "./embedder.ts";

/** Bars stream → `ai_outputs`: the built-in producer of embeddings, unless EMBEDDER=off leaves them to another one. */
export const embedderService: NatsServiceSpec<typeof embedderConfigSchema> = {
  name: "embedder",
  configSchema: embedderConfigSchema,
  needs: ["bars"],
  metrics: (config) => ({ port: config.EMBEDDER_METRICS_PORT, host: config.METRICS_HOST }),
  start: async ({ config, nc, log, registry, signal }) => {
    if (!config.EMBEDDER) {
      log.info("embedder disabled (EMBEDDER=off): ai_outputs is left to an external producer; nothing to do");
      let stop!: () => void;
      const done = new Promise<void>((resolve) => (stop = resolve));
      return { ready: Promise.resolve(), done, stop: async () => stop() };
    }
    const store = await openStoreWhenReachable(config, {
      log,
      access: "write",
      applicationName: "gapfill-embedder",
      retry: DEFAULT_EMBEDDER_TUNING.retry,
      signal,
    });
    const embedder = await startEmbedder({ config, nc, store, log, registry }).catch(async (error: unknown) => {
      await store.close();
      throw error;
    });
    log.info({ store: store.kind }, "writing embeddings to ai_outputs");
    return {
      ready: embedder.ready,
      done: embedder.done,
      stop: async () => {
        await embedder.stop();
        await store.close();
      },
    };
  },
};
