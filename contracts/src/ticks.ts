import { z } from "zod";

export const TICK_KINDS = ["retrain", "infer"] as const;
export const tickKindSchema = z.enum(TICK_KINDS);
export type TickKind = z.infer<typeof tickKindSchema>;

/** One scheduler tick per interval window; `window_start` is aligned to `interval_s`. */
export const tickEventSchema = z
  .strictObject({
    kind: tickKindSchema,
    window_start: z.number().int().nonnegative(),
    interval_s: z.number().int().positive(),
  })
  .refine((tick) => tick.window_start % (tick.interval_s * 1000) === 0, {
    path: ["window_start"],
    message: "must be a multiple of interval_s (epoch ms)",
  });
export type TickEvent = z.infer<typeof tickEventSchema>;

/** NATS message id of a tick: several schedulers emitting the same window publish it once. */
export function tickMsgId(tick: Pick<TickEvent, "kind" | "window_start">): string {
  return `${tick.kind}:${tick.window_start}`;
}

/** Start (epoch ms) of the interval window that contains `nowMs`. */
export function tickWindowStart(nowMs: number, intervalSeconds: number): number {
  const intervalMs = intervalSeconds * 1000;
  return nowMs - (nowMs % intervalMs);
}

/** Start (epoch ms) of the interval window after the one that contains `nowMs`: when its tick is due. */
export function nextTickWindowStart(nowMs: number, intervalSeconds: number): number {
  return tickWindowStart(nowMs, intervalSeconds) + intervalSeconds * 1000;
}
