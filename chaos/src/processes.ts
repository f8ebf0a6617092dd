/**
 * The processes of the soak: each one spawned for real, its output appended to its own log file, killable (SIGKILL:
 * a crash) or stoppable (a signal it handles) and startable again, its resident memory read from /proc. An exit
 * nobody asked for is a crash: it is recorded and, like an orchestrator would, the process is started again.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, readFileSync, type WriteStream } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { waitFor } from "@gapfill/kit";

export interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
  /** Run as this user and group (root only): PostgreSQL refuses to run as root. */
  uid?: number;
  gid?: number;
  /** The signal it stops cleanly on (default SIGTERM). */
  stopSignal?: NodeJS.Signals;
  /** Whether the process does its job now (its /readyz, a ping); checked by waitReady(). */
  ready: () => Promise<boolean>;
}

/** An exit nobody asked for. */
export interface Crash {
  name: string;
  /** Milliseconds on the soak's clock. */
  atMs: number;
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface FleetHooks {
  /** The soak's clock: milliseconds since it started (negative before). */
  clock: () => number;
  onCrash: (crash: Crash) => void;
  /** A crash that restarting cannot help (exit status 78, a configuration the process refuses). */
  onFatal: (reason: string) => void;
}

/** EX_CONFIG, as services/kit uses it: restarting cannot help. */
const EXIT_CONFIG = 78;
/** Pause before a crashed process is started again. */
const CRASH_RESTART_MS = 1000;

/** Resident set size of a process in bytes (VmRSS), or null when it is gone. */
export function residentBytes(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

export class ManagedProcess {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  /** Exits we asked for (kill or stop) are not crashes. */
  private expectingExit = false;
  private restartTimer: NodeJS.Timeout | null = null;
  private disposed = false;
  /** How many times it has been started. */
  instances = 0;
  /** The soak clock's time of the current instance's start. */
  startedAtMs = 0;

  readonly spec: ProcessSpec;
  private readonly log: WriteStream;
  private readonly hooks: FleetHooks;

  constructor(
    spec: ProcessSpec,
    log: WriteStream,
    hooks: FleetHooks,
  ) {
    this.spec = spec;
    this.log = log;
    this.hooks = hooks;
  }

  get name(): string {
    return this.spec.name;
  }

  get pid(): number | null {
    return this.running ? (this.child?.pid ?? null) : null;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  rssBytes(): number | null {
    const pid = this.pid;
    return pid === null ? null : residentBytes(pid);
  }

  start(): void {
    if (this.running || this.disposed) return;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    const { spec } = this;
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: spec.env,
      stdio: ["ignore", "pipe", "pipe"],
      // A process group of its own: a terminal's Ctrl-C reaches the soak, which then stops everything in order.
      detached: true,
      ...(spec.uid === undefined ? {} : { uid: spec.uid, gid: spec.gid }),
    });
    this.child = child;
    this.expectingExit = false;
    this.instances += 1;
    this.startedAtMs = this.hooks.clock();
    this.note(`started pid ${child.pid} (instance ${this.instances})`);
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) createInterface({ input: stream }).on("line", (line) => this.log.write(`${line}\n`));
    }
    this.exited = new Promise((resolve) =>
      child.once("exit", (code, signal) => {
        this.note(`exited (${signal ?? `status ${code}`})`);
        if (!this.expectingExit && !this.disposed) this.crashed(code, signal);
        resolve();
      }),
    );
    child.once("error", (error) => this.note(`could not be started: ${error.message}`));
  }

  private crashed(code: number | null, signal: NodeJS.Signals | null): void {
    this.hooks.onCrash({ name: this.name, atMs: this.hooks.clock(), code, signal });
    if (code === EXIT_CONFIG) {
      this.hooks.onFatal(`${this.name} refused its configuration (exit status 78): see its log`);
      return;
    }
    this.restartTimer = setTimeout(() => this.start(), CRASH_RESTART_MS);
  }

  /** Sends `signal` (SIGKILL by default: a crash) and waits for the exit; it stays down until start(). */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    if (!this.running) return;
    this.expectingExit = true;
    this.note(`sent ${signal}`);
    this.child!.kill(signal);
    await this.exited;
  }

  /** Its stop signal, then SIGKILL if it has not exited after `timeoutMs`; resolves with its exit status (null after a signal). */
  async stop(timeoutMs = 15_000): Promise<number | null> {
    const child = this.child;
    if (!this.running || !child) return child?.exitCode ?? null;
    const forced = setTimeout(() => void this.kill("SIGKILL"), timeoutMs);
    await this.kill(this.spec.stopSignal ?? "SIGTERM");
    clearTimeout(forced);
    return child.exitCode;
  }

  /** Waits until it runs and its readiness probe says yes. */
  async waitReady(timeoutMs: number): Promise<void> {
    await waitFor(async () => this.running && (await this.spec.ready()), { timeoutMs, intervalMs: 200, what: `${this.name} to be ready` });
  }

  /** SIGKILL now, without waiting: for the soak's own exit, when nothing can be awaited any more. */
  killNow(): void {
    this.disposed = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (this.running) this.child!.kill("SIGKILL");
  }

  /** Stops it for good (no crash restarts from now on). */
  async dispose(timeoutMs?: number): Promise<number | null> {
    this.disposed = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    return this.stop(timeoutMs);
  }

  private note(text: string): void {
    this.log.write(`--- ${new Date().toISOString()} chaos: ${this.name} ${text}\n`);
  }
}

/** Every process of the soak, each logging to `<logDir>/<name>.log`. */
export class Fleet {
  readonly processes: ManagedProcess[] = [];
  private readonly logs: WriteStream[] = [];
  /** Should the soak exit before disposeAll() (a test timing out), no server it started may outlive it. */
  private readonly killAllNow = () => {
    for (const managed of this.processes) managed.killNow();
  };

  private readonly logDir: string;
  private readonly hooks: FleetHooks;

  constructor(
    logDir: string,
    hooks: FleetHooks,
  ) {
    this.logDir = logDir;
    this.hooks = hooks;
    process.once("exit", this.killAllNow);
  }

  add(spec: ProcessSpec): ManagedProcess {
    const log = createWriteStream(join(this.logDir, `${spec.name}.log`), { flags: "a" });
    this.logs.push(log);
    const managed = new ManagedProcess(spec, log, this.hooks);
    this.processes.push(managed);
    return managed;
  }

  get(name: string): ManagedProcess {
    const found = this.processes.find((p) => p.name === name);
    if (!found) throw new Error(`no process named ${name}`);
    return found;
  }

  /** Runs a one-shot job (provisioning) to its end, logging like the others; resolves with its exit status. */
  async runToEnd(spec: Omit<ProcessSpec, "ready">): Promise<number | null> {
    const log = createWriteStream(join(this.logDir, `${spec.name}.log`), { flags: "a" });
    this.logs.push(log);
    const child = spawn(spec.command, spec.args, { cwd: spec.cwd, env: spec.env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    for (const stream of [child.stdout, child.stderr]) createInterface({ input: stream }).on("line", (line) => log.write(`${line}\n`));
    return new Promise((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (code) => resolve(code));
    });
  }

  /**
   * Stops every process for good, the last started first (services before the servers they use); returns each one's
   * exit status (null: ended by a signal, or was not running).
   */
  async disposeAll(): Promise<Map<string, number | null>> {
    const statuses = new Map<string, number | null>();
    for (const managed of [...this.processes].reverse()) statuses.set(managed.name, await managed.dispose());
    process.off("exit", this.killAllNow);
    return statuses;
  }

  async closeLogs(): Promise<void> {
    await Promise.all(this.logs.map((log) => new Promise<void>((resolve) => log.end(() => resolve()))));
  }
}
