import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { EXIT_CONFIG } from "@gapfill/kit";

export interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  env: Record<string, string | undefined>;
  cwd: string;
}

const RESTART_BACKOFF_MS = [500, 1000, 2000, 5000, 10_000, 30_000];
/** A process that stayed up this long starts its backoff again from the first step. */
const STABLE_AFTER_MS = 60_000;

const COLORS = [36, 35, 33, 32, 34, 31];

type Managed = { spec: ProcessSpec; child: ChildProcess | null; restarts: number; startedAt: number; timer?: NodeJS.Timeout };

/**
 * Runs services as child processes with `name | line` prefixed output, restarts one that dies (with backoff), and
 * stops them all on request. A service that exits for bad configuration is not restarted: the whole stack stops
 * through `onFatal`, since retrying cannot fix it.
 */
export class Supervisor {
  private readonly managed = new Map<string, Managed>();
  private stopping = false;
  private readonly width: number;

  private readonly write: (text: string) => void;
  private readonly onFatal: (reason: string) => void;
  private readonly color: boolean;

  constructor(
    write: (text: string) => void,
    onFatal: (reason: string) => void,
    color = false,
    names: readonly string[] = [],
  ) {
    this.write = write;
    this.onFatal = onFatal;
    this.color = color;
    this.width = Math.max(8, ...names.map((name) => name.length));
  }

  prefix(name: string): string {
    const label = name.padEnd(this.width);
    if (!this.color) return `${label} | `;
    const index = [...name].reduce((sum, ch) => sum + ch.charCodeAt(0), 0) % COLORS.length;
    return `\x1b[${COLORS[index]}m${label} |\x1b[0m `;
  }

  line(name: string, text: string): void {
    this.write(`${this.prefix(name)}${text}\n`);
  }

  start(spec: ProcessSpec): void {
    const entry: Managed = { spec, child: null, restarts: 0, startedAt: 0 };
    this.managed.set(spec.name, entry);
    this.launch(entry);
  }

  /**
   * Runs a one-shot job (provisioning) to its end with prefixed output, and resolves with its exit status (null when
   * a signal ended it). stopAll() stops it like a service.
   */
  runOnce(spec: ProcessSpec): Promise<number | null> {
    const entry: Managed = { spec, child: null, restarts: 0, startedAt: Date.now() };
    this.managed.set(spec.name, entry);
    const child = spawn(spec.command, spec.args, { cwd: spec.cwd, env: spec.env, stdio: ["ignore", "pipe", "pipe"] });
    entry.child = child;
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) createInterface({ input: stream }).on("line", (text) => this.line(spec.name, text));
    }
    return new Promise((resolve) =>
      child.once("exit", (code) => {
        entry.child = null;
        this.managed.delete(spec.name);
        resolve(code);
      }),
    );
  }

  pid(name: string): number | undefined {
    return this.managed.get(name)?.child?.pid;
  }

  private launch(entry: Managed): void {
    const { spec } = entry;
    const child = spawn(spec.command, spec.args, { cwd: spec.cwd, env: spec.env, stdio: ["ignore", "pipe", "pipe"] });
    entry.child = child;
    entry.startedAt = Date.now();
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) createInterface({ input: stream }).on("line", (text) => this.line(spec.name, text));
    }
    child.once("exit", (code, signal) => {
      entry.child = null;
      if (this.stopping) return;
      if (code === EXIT_CONFIG) {
        this.onFatal(`${spec.name} refused its configuration (see above)`);
        return;
      }
      if (Date.now() - entry.startedAt > STABLE_AFTER_MS) entry.restarts = 0;
      const delay = RESTART_BACKOFF_MS[Math.min(entry.restarts, RESTART_BACKOFF_MS.length - 1)]!;
      entry.restarts += 1;
      this.line("stack", `${spec.name} exited (${signal ?? `code ${code}`}); restarting in ${delay} ms`);
      entry.timer = setTimeout(() => this.launch(entry), delay);
    });
  }

  /** SIGTERM to every child (each drains and exits), SIGKILL to any still running after `timeoutMs`. */
  async stopAll(timeoutMs = 15_000): Promise<void> {
    this.stopping = true;
    const running = [...this.managed.values()].flatMap((entry) => {
      clearTimeout(entry.timer);
      const child = entry.child;
      if (!child || child.exitCode !== null || child.signalCode !== null) return [];
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGTERM");
      return [{ child, exited, name: entry.spec.name }];
    });
    const deadline = setTimeout(() => {
      for (const { child, name } of running) {
        if (child.exitCode === null && child.signalCode === null) {
          this.line("stack", `${name} did not stop in ${timeoutMs} ms; killing it`);
          child.kill("SIGKILL");
        }
      }
    }, timeoutMs);
    await Promise.all(running.map((r) => r.exited));
    clearTimeout(deadline);
  }
}
