import { jetstream } from "@nats-io/jetstream";
import { EMBEDDING_DIM, FEATURE_VERSION, mlInferConfigSchema } from "@gapfill/contracts";
import { openObjectStore, openStoreWhenReachable, type NatsServiceSpec } from "@gapfill/kit";
import { startInference } from "./inference.ts";
import { createInferMetrics } from "./metrics.ts";
import { createModelSlot } from "./model-slot.ts";
import { predictionPublisher } from "./publisher.ts";

/** Retries while the database cannot be reached at start. */
const STORE_RETRY = { initialMs: 1_000, maxMs: 30_000 };

/** Infer ticks → the published model scores new embeddings → `ml.predictions.<SYMBOL>`, ml_predictions, the log. */
export const mlInferService: NatsServiceSpec<typeof mlInferConfigSchema> = {
  name: "ml-infer",
  configSchema: mlInferConfigSchema,
  needs: ["mlTicks", "mlEvents"],
  metrics: (config) => ({ port: config.ML_INFER_METRICS_PORT, host: config.METRICS_HOST }),
  start: async ({ config, nc, names, log, registry, signal }) => {
    const store = await openStoreWhenReachable(config, { log, access: "write", applicationName: "gapfill-ml-infer", retry: STORE_RETRY, signal });
    const objects = await openObjectStore(config, { log }).catch(async (error: unknown) => {
      await store.close();
      throw error;
    });
    const metrics = createInferMetrics(registry);
    const slot = createModelSlot({ objects, modelJsonKey: config.MODEL_JSON, embeddingDim: EMBEDDING_DIM, log, metrics });
    const release = async () => {
      await slot.release();
      await objects.close();
      await store.close();
    };
    log.info({ store: store.kind, objects: objects.location, modelJson: config.MODEL_JSON, maxPerTick: config.ML_INFER_MAX_PER_TICK }, "scoring embeddings into ml_predictions");
    const inference = await startInference({
      nc,
      names,
      slot,
      pass: { store, publish: predictionPublisher(jetstream(nc), names), log, metrics },
      settings: { symbols: config.BINANCE_SYMBOL, maxPerSymbol: config.ML_INFER_MAX_PER_TICK, featureVersion: FEATURE_VERSION, embeddingDim: EMBEDDING_DIM },
      log,
      metrics,
      ackWaitMs: config.ML_INFER_ACK_WAIT_SECONDS * 1000,
    }).catch(async (error: unknown) => {
      await release();
      throw error;
    });
    return {
      ready: inference.ready,
      done: inference.done,
      stop: async () => {
        await inference.stop();
        await release();
      },
    };
  },
};
