/**
 * CPU time used so far by the local nats-server process (Linux /proc), or null where none is visible (another OS, NATS
 * in a container): for benchmarks that ask where a message's time goes, since the server shares this machine's cores.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

const statFile = (() => {
  try {
    const pid = readdirSync("/proc").find((entry) => /^\d+$/.test(entry) && safeRead(`/proc/${entry}/comm`)?.trim() === "nats-server");
    return pid ? `/proc/${pid}/stat` : null;
  } catch {
    return null;
  }
})();
const ticksPerSecond = statFile ? Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) : 0;

function safeRead(file: string): string | null {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return null;
  }
}

/** Seconds of CPU (user + system) nats-server has used, or null. */
export function natsServerCpuSeconds(): number | null {
  const stat = statFile ? safeRead(statFile) : null;
  if (!stat) return null;
  // Fields after the parenthesised command name: utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}
