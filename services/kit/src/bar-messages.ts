import { closedBarSchema, describeIssues, isClosedBar, symbolOfSubject, type ClosedBar } from "@gapfill/contracts";

export type DecodedBar = { ok: true; bar: ClosedBar } | { ok: false; reason: string };

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The one decoder of stored bars (recorder, gateway, ingestor).
 * A `bars.15s.<SYMBOL>` message → a closed bar, or why it is not one: not UTF-8 JSON, not the SPEC §3 shape, or a
 * bar of another symbol than its subject names.
 */
export function decodeBarMessage(subject: string, data: Uint8Array): DecodedBar {
  let json: unknown;
  try {
    json = JSON.parse(utf8.decode(data));
  } catch (error) {
    return { ok: false, reason: `not JSON: ${(error as Error).message}` };
  }
  let bar: ClosedBar;
  if (isClosedBar(json)) bar = json;
  else {
    const parsed = closedBarSchema.safeParse(json);
    if (!parsed.success) return { ok: false, reason: describeIssues(parsed.error) };
    bar = parsed.data;
  }
  const subjectSymbol = symbolOfSubject(subject);
  if (bar.symbol !== subjectSymbol) return { ok: false, reason: `symbol ${bar.symbol} published on the subject of ${subjectSymbol}` };
  return { ok: true, bar };
}
