import { z } from "zod";
import { barTsSchema } from "./bar.ts";
import { modelVersionSchema } from "./model.ts";
import { symbolSchema } from "./symbol.ts";

/**
 * One prediction of ml-infer: what model `model_version` scored for the embedding of `symbol` at bar `ts`. Published
 * on `<ns>.ml.predictions.<SYMBOL>` (the ML events stream), stored in `ml_predictions` (without `scored_at`, which the
 * table keeps as `created_at`, the time of the first write), and forwarded by the gateway as SSE `event: prediction`.
 */
export const predictionEventSchema = z.strictObject({
  symbol: symbolSchema,
  /** Open time (epoch ms) of the newest bar of the scored embedding's window. */
  ts: barTsSchema,
  /** Probability that the close LABEL_HORIZON_MS (ML_HORIZON_SECONDS of the model's training) later is higher. */
  prob_up: z.number().min(0).max(1),
  model_version: modelVersionSchema,
  /** When ml-infer scored it (ISO 8601, UTC). */
  scored_at: z.iso.datetime(),
});
export type PredictionEvent = z.infer<typeof predictionEventSchema>;

/**
 * `Nats-Msg-Id` of a prediction: one per (symbol, ts, model version), so a batch published again within the stream's
 * duplicate window (a redelivered tick, a second ml-infer) is stored once.
 */
export function predictionMsgId(symbol: string, ts: number, modelVersion: string): string {
  return `prediction:${symbol}:${ts}:${modelVersion}`;
}
