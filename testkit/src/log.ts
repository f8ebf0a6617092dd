import { pino } from "pino";
import type { Logger } from "@gapfill/kit";

/** A logger whose lines land parsed in `lines` (at debug and above), so a test can assert what was logged. */
export function capturingLogger(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: "debug" }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { log, lines };
}
