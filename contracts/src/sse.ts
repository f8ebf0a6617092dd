import { z } from "zod";
import { closedBarSchema, formingBarSchema } from "./bar.ts";
import { predictionEventSchema } from "./prediction.ts";

/** Why a gap stream ended; sent as the data of `event: end` just before the server closes it. */
export const END_REASONS = ["to_ts", "max_duration", "stopped", "expired", "slow_consumer", "shutdown"] as const;
export const endReasonSchema = z.enum(END_REASONS);
export type EndReason = z.infer<typeof endReasonSchema>;

const epochMs = z.number().int().nonnegative();

/**
 * Payloads of the gap stream's events, keyed by SSE event name. Only `bar` events carry an `id:` (the bar's ts), so
 * an EventSource's Last-Event-ID is always the newest bar received.
 */
export const sseEventSchemas = {
  bar: closedBarSchema,
  partial: formingBarSchema,
  /** The replay has caught up: every closed bar up to `last_ts` has been sent, live bars follow. */
  live: z.strictObject({ last_ts: epochMs.nullable(), server_time: epochMs }),
  end: z.strictObject({ reason: endReasonSchema, last_ts: epochMs.nullable() }),
  /** With predictions=1: the symbol's newest prediction at connect, then each one ml-infer publishes. */
  prediction: predictionEventSchema,
} as const;

export type SseEventName = keyof typeof sseEventSchemas;
export type SseEventData<E extends SseEventName> = z.infer<(typeof sseEventSchemas)[E]>;
export type SseLiveData = SseEventData<"live">;
export type SseEndData = SseEventData<"end">;
export type SsePredictionData = SseEventData<"prediction">;
