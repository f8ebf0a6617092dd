import { describeIssues, tickEventSchema, type TickEvent } from "@gapfill/contracts";
import { decodeJsonMessage } from "./json-message.ts";

export type DecodedTick = { ok: true; tick: TickEvent } | { ok: false; reason: string };

/**
 * The one decoder of scheduler ticks (scheduler, ml-runner, ml-infer). An `ml.tick.<kind>` message → a tick, or
 * why it is not one: not UTF-8 JSON, not the tick shape (window_start a multiple of interval_s), or a tick of
 * another kind than its subject names. A consumer terminates a message that is not a tick, never retries it.
 */
export function decodeTickMessage(subject: string, data: Uint8Array): DecodedTick {
  const json = decodeJsonMessage(data);
  if (!json.ok) return json;
  const parsed = tickEventSchema.safeParse(json.value);
  if (!parsed.success) return { ok: false, reason: describeIssues(parsed.error) };
  if (!subject.endsWith(`.tick.${parsed.data.kind}`)) {
    return { ok: false, reason: `a ${parsed.data.kind} tick published on ${subject}` };
  }
  return { ok: true, tick: parsed.data };
}
