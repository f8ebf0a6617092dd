import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";

export interface ServiceProcess {
  child: ChildProcess;
  /** Its JSON log lines, parsed, as they arrive. */
  logs: Record<string, unknown>[];
  /** stderr, and stdout lines that are not JSON. */
  stderr: string[];
  exited: Promise<number | null>;
  /** SIGKILL: the process gets no chance to hand anything back. */
  kill(): Promise<void>;
}

/** A service's `main.ts` in a child process (`node --import tsx`), with `env` on top of this process's environment. */
export function startServiceProcess(main: string, env: Record<string, string>): ServiceProcess {
  const child = spawn(process.execPath, ["--import", "tsx", main], { env: { ...process.env, LOG_FORMAT: "json", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const logs: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stdout! }).on("line", (line) => {
    try {
      logs.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      stderr.push(line);
    }
  });
  createInterface({ input: child.stderr! }).on("line", (line) => stderr.push(line));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    logs,
    stderr,
    exited,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}
