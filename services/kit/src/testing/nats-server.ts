import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { acceptsConnections, freePort } from "./ports.ts";
import { waitFor } from "./wait.ts";

/** The nats-server binary a test may start for itself (to kill or restart it). */
export const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN ?? "/usr/sbin/nats-server";

export interface PrivateNatsServer {
  url: string;
  /** Stops the server (SIGKILL by default: a crash) and waits for it to exit. Its data stays for restart(). */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and store directory and waits until it accepts connections. */
  restart(): Promise<void>;
  /** Stops it and deletes its store directory. */
  dispose(): Promise<void>;
}

/** A JetStream nats-server of the test's own, on a free port with its own store directory. */
export async function startPrivateNatsServer(): Promise<PrivateNatsServer> {
  const port = await freePort();
  const storeDir = await mkdtemp(join(tmpdir(), "gapfill-nats-"));
  let child: ChildProcess | null = null;
  const start = async () => {
    const proc = spawn(NATS_SERVER_BIN, ["-js", "-sd", storeDir, "-a", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
    child = proc;
    await waitFor(
      async () => {
        if (proc.exitCode !== null) throw new Error(`nats-server exited with status ${proc.exitCode}`);
        return acceptsConnections(port);
      },
      { what: `nats-server on port ${port}`, timeoutMs: 15_000 },
    );
  };
  const stop = async (signal: NodeJS.Signals = "SIGKILL") => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    proc.kill(signal);
    await exited;
  };
  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    stop,
    restart: start,
    dispose: async () => {
      await stop();
      await rm(storeDir, { recursive: true, force: true });
    },
  };
}
