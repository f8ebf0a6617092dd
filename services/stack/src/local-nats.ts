import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { redactUrlCredentials, tcpAnswers, waitFor } from "@gapfill/kit";

/** host and port of the first server in a NATS_URL. */
export function firstNatsServer(url: string): { host: string; port: number } {
  const first = url.split(",")[0]!.trim();
  const parsed = new URL(first.includes("://") ? first : `nats://${first}`);
  return { host: parsed.hostname || "127.0.0.1", port: Number(parsed.port || 4222) };
}

/** Whether something accepts TCP connections at the first server of `url` within `timeoutMs`. */
export function natsAnswers(url: string, timeoutMs = 1000): Promise<boolean> {
  const { host, port } = firstNatsServer(url);
  return tcpAnswers(host, port, timeoutMs);
}

export class NatsServerMissingError extends Error {
  override name = "NatsServerMissingError";
}

export interface LocalNatsServer {
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts `nats-server` with the repo's nats.conf on the host/port of NATS_URL, JetStream data under `storeDir`.
 * Detached into its own process group, so a terminal's Ctrl-C reaches the services first and the supervisor stops
 * NATS last, after they have drained.
 */
export async function startLocalNatsServer(options: {
  bin: string;
  url: string;
  confPath: string;
  storeDir: string;
  onOutput: (line: string) => void;
}): Promise<LocalNatsServer> {
  const probe = spawnSync(options.bin, ["--version"], { encoding: "utf8" });
  if (probe.error) {
    throw new NatsServerMissingError(
      `No NATS server answers at ${redactUrlCredentials(options.url)} and \`${options.bin}\` could not be run (${probe.error.message}). ` +
        "Install one (Debian/Ubuntu: `apt-get install nats-server`; others: https://docs.nats.io/running-a-nats-service/introduction/installation), " +
        "or point NATS_URL at a running server with JetStream.",
    );
  }
  const { host, port } = firstNatsServer(options.url);
  mkdirSync(options.storeDir, { recursive: true });
  const child = spawn(
    options.bin,
    ["-c", options.confPath, "-a", host, "-p", String(port), "-sd", options.storeDir, "-m", "0"],
    { stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding("utf8").on("data", (chunk: string) => chunk.split("\n").filter(Boolean).forEach(options.onOutput));
  }
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`it exited with code ${child.exitCode}`);
        return natsAnswers(options.url, 250);
      },
      { timeoutMs: 10_000, intervalMs: 100, what: `nats-server on ${host}:${port}` },
    );
  } catch (error) {
    child.kill("SIGKILL");
    throw new Error(`nats-server did not start on ${host}:${port}: ${(error as Error).message}`);
  }
  return {
    process: child,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}
