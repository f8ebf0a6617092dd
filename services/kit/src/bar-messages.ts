import { closedBarSchema, describeIssues, symbolOfSubject, type ClosedBar } from "@gapfill/contracts";
import { decodeJsonMessage } from "./json-message.ts";

export type DecodedBar = { ok: true; bar: ClosedBar } | { ok: false; reason: string };

/**
 * The one decoder of stored bars (recorder, gateway, ingestor, embedder).
 * A `bars.15s.<SYMBOL>` message → a closed bar, or why it is not one: not UTF-8 JSON, not the closed-bar shape, or a
 * bar of another symbol than its subject names.
 */
export function decodeBarMessage(subject: string, data: Uint8Array): DecodedBar {
  const json = decodeJsonMessage(data);
  if (!json.ok) return json;
  const parsed = closedBarSchema.safeParse(json.value);
  if (!parsed.success) return { ok: false, reason: describeIssues(parsed.error) };
  const subjectSymbol = symbolOfSubject(subject);
  if (parsed.data.symbol !== subjectSymbol) {
    return { ok: false, reason: `symbol ${parsed.data.symbol} published on the subject of ${subjectSymbol}` };
  }
  return { ok: true, bar: parsed.data };
}
