import { closedBarSchema, type ClosedBar } from "@gapfill/contracts";
import type { Logger } from "@gapfill/kit";

/** A closed bar read from JetStream, or null (logged) when the message is not a valid bar: it is skipped. */
export function parseStoredBar(data: Uint8Array, subject: string, log: Logger): ClosedBar | null {
  try {
    const parsed = closedBarSchema.safeParse(JSON.parse(new TextDecoder().decode(data)));
    if (parsed.success) return parsed.data;
    log.warn({ subject, problem: parsed.error.issues[0]?.message }, "skipping an invalid bar");
  } catch {
    log.warn({ subject }, "skipping a bar that is not JSON");
  }
  return null;
}
