import { closedBarSchema, describeIssues, isClosedBar, symbolOfSubject, type ClosedBar } from "@gapfill/contracts";
import { decodeJsonMessage } from "./json-message.ts";

export type DecodedBar = { ok: true; bar: ClosedBar } | { ok: false; reason: string };

/**
 * The one decoder of stored bars (recorder, embedder, gateway, ingestor).
 * A `bars.15s.<SYMBOL>` message → a closed bar, or why it is not one: not UTF-8 JSON, not the closed-bar shape, or a
 * bar of another symbol than its subject names. A well-formed bar takes the fast check; anything else gets zod's
 * full reasons.
 */
export function decodeBarMessage(subject: string, data: Uint8Array): DecodedBar {
  const json = decodeJsonMessage(data);
  if (!json.ok) return json;
  let bar: ClosedBar;
  if (isClosedBar(json.value)) bar = json.value;
  else {
    const parsed = closedBarSchema.safeParse(json.value);
    if (!parsed.success) return { ok: false, reason: describeIssues(parsed.error) };
    bar = parsed.data;
  }
  const subjectSymbol = symbolOfSubject(subject);
  if (bar.symbol !== subjectSymbol) return { ok: false, reason: `symbol ${bar.symbol} published on the subject of ${subjectSymbol}` };
  return { ok: true, bar };
}
