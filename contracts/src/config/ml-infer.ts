import { z } from "zod";
import { commonEnv, metricsHostEnv } from "./common.ts";
import { envInt, portSchema, whenFieldsValid } from "./env.ts";
import { modelPointerEnv, objectStoreEnv } from "./objects.ts";
import { refineStoreAccess, storeEnv } from "./store.ts";

/**
 * ml-infer: on each infer tick (and once at start), the model MODEL_JSON names scores every embedding newer than the
 * last one it scored; each prediction is published on `ml.predictions.<SYMBOL>`, stored in `ml_predictions` and
 * logged. A new model is loaded at once on `ml.model.published`, and a pointer moved by hand at the next tick.
 */
export const mlInferConfigSchema = z
  .object({
    ...commonEnv,
    ...metricsHostEnv,
    ...storeEnv,
    ...objectStoreEnv,
    ...modelPointerEnv,
    /**
     * Embeddings scored per symbol and tick at most: the newest ones after the last this model version scored (1440 is
     * a day of the built-in embedder's one a minute), so a new model's first tick is bounded and scores the recent past.
     */
    ML_INFER_MAX_PER_TICK: envInt(1440, 1, 100_000),
    /** JetStream ack wait of the infer tick consumer; a live ml-infer renews it (in-progress acks) while it scores. */
    ML_INFER_ACK_WAIT_SECONDS: envInt(30, 1, 3600),
    /** ml-infer's metrics port (`0` = any free port). */
    ML_INFER_METRICS_PORT: portSchema(9107),
  })
  .superRefine(refineStoreAccess("write"), whenFieldsValid);
export type MlInferConfig = z.infer<typeof mlInferConfigSchema>;
