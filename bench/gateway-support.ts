/**
 * Shared by the gateway benchmarks: the gateway run as its own process from its real entry point
 * (services/gateway/src/main.ts), the bare node:http floors as a child process, and a pool of concurrent tasks. Not
 * a benchmark by itself.
 */
import { fork, spawn, type ChildProcess } from "node:child_process";
import { freePort } from "@gapfill/testkit";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { TYPESCRIPT_NODE_ARGS } from "@gapfill/kit";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");

/** Wall-clock ms with sub-ms precision, comparable across processes on one machine. */
export const now = () => performance.timeOrigin + performance.now();


/** The gateway process: its API at `url`, its Prometheus metrics (served on a port of their own) at `metricsUrl`. */
export async function startGatewayProcess(env: Record<string, string>): Promise<{ child: ChildProcess; url: string; metricsUrl: string }> {
  const [port, metricsPort] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, [...TYPESCRIPT_NODE_ARGS, join(root, "services/gateway/src/main.ts")], {
    env: { ...process.env, ...env, GATEWAY_METRICS_PORT: String(metricsPort), METRICS_HOST: "127.0.0.1", PORT: String(port), HOST: "127.0.0.1" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) return { child, url, metricsUrl };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error("the gateway did not become ready");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill("SIGTERM");
  await new Promise((resolve) => child.once("exit", resolve));
}

/** Sends a command and resolves with the first message of the given type. */
export function ask<T>(child: ChildProcess, command: object | null, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { type: string }) => {
      if (message.type !== type) return;
      child.off("message", onMessage);
      child.off("exit", onExit);
      resolve(message as T);
    };
    const onExit = (code: number | null) => reject(new Error(`child exited (${code}) while waiting for ${type}`));
    child.on("message", onMessage);
    child.once("exit", onExit);
    if (command) child.send(command);
  });
}

export async function runPool(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const started = now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await task(next++);
    }),
  );
  return now() - started;
}

/** The bare node:http floors (gateway-floor-server.ts) in a child process. */
export async function startFloor(env: Record<string, string> = {}): Promise<{ floor: ChildProcess; port: number }> {
  const floor = fork(join(here, "gateway-floor-server.ts"), [], {
    execArgv: [...TYPESCRIPT_NODE_ARGS],
    stdio: "inherit",
    env: { ...process.env, ...env },
  });
  const { port } = await ask<{ port: number }>(floor, null, "listening");
  return { floor, port };
}

