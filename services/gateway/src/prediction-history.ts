import { BAR_MS, PREDICTIONS_WINDOW_BARS, type PredictionsResponse } from "@gapfill/contracts";
import type { GatewayStore } from "./context.ts";

export interface PredictionHistoryQuery {
  symbol: string;
  /** Unset: the version of the symbol's newest prediction. */
  modelVersion?: string | undefined;
  /** Oldest ts to include; unset: PREDICTIONS_WINDOW_BARS bar times ending with the version's newest prediction. */
  fromTs?: number | undefined;
  limit: number;
}

/**
 * One model version's predictions of a symbol, oldest first: the version that made the newest prediction unless one
 * is named, so a chart's line never mixes two models' views of the same bars. One row more than `limit` is read to
 * tell whether the list was cut, and where the next part starts.
 */
export async function readPredictionHistory(
  store: Pick<GatewayStore, "newestPrediction" | "predictionsSince">,
  query: PredictionHistoryQuery,
  onStoreRead: () => void = () => {},
): Promise<PredictionsResponse> {
  const { symbol, limit } = query;
  let modelVersion = query.modelVersion ?? null;
  let fromTs = query.fromTs;
  if (modelVersion === null || fromTs === undefined) {
    onStoreRead();
    const newest = await store.newestPrediction(symbol, query.modelVersion);
    if (!newest) return { symbol, model_version: modelVersion, predictions: [], next_from_ts: null };
    modelVersion = newest.model_version;
    fromTs ??= newest.ts - (PREDICTIONS_WINDOW_BARS - 1) * BAR_MS;
  }
  onStoreRead();
  // The store lists ts > after; no prediction is ever made for a bar of 1970, so clamping at 0 loses nothing.
  const rows = await store.predictionsSince(symbol, { modelVersion, after: Math.max(0, fromTs - 1), limit: limit + 1 });
  const listed = rows.slice(0, limit);
  return {
    symbol,
    model_version: modelVersion,
    predictions: listed.map(({ ts, prob_up }) => ({ ts, prob_up })),
    next_from_ts: rows.length > limit ? listed.at(-1)!.ts + BAR_MS : null,
  };
}
