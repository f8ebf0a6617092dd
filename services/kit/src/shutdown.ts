import type { Logger } from "./log.ts";
import { TimeoutError, withTimeout } from "./timeout.ts";

export type Closer = { name: string; close: () => Promise<unknown> | unknown };

/**
 * Starts the shutdown (once; later calls return the same promise). `exitCode` is the status to exit with when every
 * step finished cleanly (default 0); a step that fails or times out makes it 1 unless it is already non-zero.
 */
export type Shutdown = (reason: string, options?: { exitCode?: number }) => Promise<void>;

/**
 * On SIGTERM/SIGINT, runs the closers in order (stop taking work, then drain NATS, then close stores), each
 * bounded so a stuck one cannot hold the process; exits 0 when all finished in time, 1 otherwise (or with the
 * status the shutdown was started with). Returns the shutdown function so a service can also trigger it itself.
 */
const SIGNALS = ["SIGTERM", "SIGINT"] as const;

export function handleShutdown(
  log: Logger,
  closers: readonly Closer[],
  { timeoutMs = 10_000, exit = (code: number): void => process.exit(code) }: { timeoutMs?: number; exit?: (code: number) => void } = {},
): Shutdown {
  let started: Promise<void> | null = null;
  const onSignal = (signal: NodeJS.Signals) => void shutdown(signal);
  const shutdown: Shutdown = (reason, { exitCode = 0 } = {}) => {
    started ??= (async () => {
      for (const signal of SIGNALS) process.off(signal, onSignal);
      log.info({ reason }, "shutting down");
      const deadline = Date.now() + timeoutMs;
      let clean = true;
      for (const closer of closers) {
        const remaining = Math.max(0, deadline - Date.now());
        const outcome = await runWithin(closer, remaining);
        if (outcome !== "closed") {
          clean = false;
          log.error({ closer: closer.name, outcome }, "shutdown step did not finish cleanly");
        }
      }
      log.info({ clean }, "stopped");
      exit(exitCode !== 0 ? exitCode : clean ? 0 : 1);
    })();
    return started;
  };
  for (const signal of SIGNALS) process.once(signal, onSignal);
  return shutdown;
}

async function runWithin(closer: Closer, ms: number): Promise<"closed" | "timeout" | string> {
  try {
    await withTimeout(Promise.resolve(closer.close()), ms, closer.name);
    return "closed";
  } catch (error) {
    return error instanceof TimeoutError ? "timeout" : `failed: ${(error as Error).message}`;
  }
}

