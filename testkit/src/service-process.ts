import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface } from "node:readline";
import { TYPESCRIPT_NODE_ARGS, waitFor } from "@gapfill/kit";

/** A service's `src/main.ts` running in a process of its own, the way it runs in production. */
export interface ServiceProcess {
  child: ChildProcessWithoutNullStreams;
  /** Its JSON log lines, parsed, as they arrive. */
  logs: Record<string, unknown>[];
  /** stderr, and stdout lines that are not JSON. */
  stderr: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL (no chance to hand anything back), then waits for the exit. */
  kill(): Promise<void>;
  /** The first log line with this `msg` (and these fields), once it is there; fails early if the process exits. */
  logged(msg: string, fields?: Record<string, unknown>, timeoutMs?: number): Promise<Record<string, unknown>>;
}

/** Starts `node <main>` (TypeScript: see TYPESCRIPT_NODE_ARGS) with the test's environment on top of this process's, logging JSON. */
export function startServiceProcess(main: string, env: Record<string, string>): ServiceProcess {
  const child = spawn(process.execPath, [...TYPESCRIPT_NODE_ARGS, main], {
    env: { ...process.env, LOG_FORMAT: "json", ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const logs: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stdout }).on("line", (line) => {
    try {
      logs.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      stderr.push(line);
    }
  });
  createInterface({ input: child.stderr }).on("line", (line) => stderr.push(line));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
  const matches = (line: Record<string, unknown>, msg: string, fields: Record<string, unknown>) =>
    line.msg === msg && Object.entries(fields).every(([key, value]) => line[key] === value);
  const service: ServiceProcess = {
    child,
    logs,
    stderr,
    exited,
    kill: () => killServiceProcess(service),
    logged: async (msg, fields = {}, timeoutMs = 30_000) => {
      const seen = await waitFor(
        () => {
          const line = logs.find((l) => matches(l, msg, fields));
          if (line) return { line };
          return child.exitCode !== null || child.signalCode !== null ? { line: null } : undefined;
        },
        { timeoutMs, what: `log line "${msg}"` },
      );
      if (!seen.line) throw new Error(`the process ended (${child.exitCode ?? child.signalCode}) before logging "${msg}": ${stderr.join("\n")}`);
      return seen.line;
    },
  };
  return service;
}

/** Kills a service process if it still runs (SIGKILL by default) and waits for it to exit. */
export async function killServiceProcess(service: ServiceProcess, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
  if (service.child.exitCode === null && service.child.signalCode === null) service.child.kill(signal);
  await service.exited;
}
