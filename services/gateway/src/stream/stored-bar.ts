import type { ClosedBar } from "@gapfill/contracts";
import { decodeBarMessage, type Logger } from "@gapfill/kit";

/** A closed bar read from JetStream, or null (logged) when the message is not a valid bar: it is skipped. */
export function parseStoredBar(data: Uint8Array, subject: string, log: Logger): ClosedBar | null {
  const decoded = decodeBarMessage(subject, data);
  if (decoded.ok) return decoded.bar;
  log.warn({ subject, problem: decoded.reason }, "skipping an invalid bar");
  return null;
}
