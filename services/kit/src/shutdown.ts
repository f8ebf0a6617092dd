import type { Logger } from "./log.ts";
import { TimeoutError, withTimeout } from "./timeout.ts";

export type Closer = { name: string; close: () => Promise<unknown> | unknown };

/** Starts the shutdown (once; later calls return the same promise). `failed` makes the exit status 1. */
export type Shutdown = (reason: string, options?: { failed?: boolean }) => Promise<void>;

/**
 * On SIGTERM/SIGINT, runs the closers in order (stop taking work, then drain NATS, then close stores), each
 * bounded so a stuck one cannot hold the process; exits 0 when all finished in time, 1 otherwise (or when
 * the shutdown was started because the service failed). Returns the shutdown function so a service can also
 * trigger it itself.
 */
export function handleShutdown(
  log: Logger,
  closers: readonly Closer[],
  { timeoutMs = 10_000, exit = (code: number): void => process.exit(code) }: { timeoutMs?: number; exit?: (code: number) => void } = {},
): Shutdown {
  let started: Promise<void> | null = null;
  const shutdown: Shutdown = (reason, { failed = false } = {}) => {
    started ??= (async () => {
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
      exit(clean && !failed ? 0 : 1);
    })();
    return started;
  };
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => void shutdown(signal));
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

/** A service whose long-running task rejects is finished: log why and shut down with exit status 1. */
export function shutdownWhenRejected(task: Promise<unknown>, what: string, log: Logger, shutdown: Shutdown): void {
  task.catch((error: unknown) => {
    log.fatal({ err: error }, `${what} failed`);
    void shutdown("failure", { failed: true });
  });
}
