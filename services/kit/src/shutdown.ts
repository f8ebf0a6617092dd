import type { Logger } from "./log.ts";

export type Closer = { name: string; close: () => Promise<unknown> | unknown };

/**
 * On SIGTERM/SIGINT, runs the closers in order (stop taking work, then drain NATS, then close stores), each
 * bounded so a stuck one cannot hold the process; exits 0 when all finished in time, 1 otherwise.
 * Returns the shutdown function so a service can also trigger it itself.
 */
export function handleShutdown(
  log: Logger,
  closers: readonly Closer[],
  { timeoutMs = 10_000, exit = (code: number): void => process.exit(code) }: { timeoutMs?: number; exit?: (code: number) => void } = {},
): (reason: string) => Promise<void> {
  let started: Promise<void> | null = null;
  const shutdown = (reason: string): Promise<void> => {
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
      exit(clean ? 0 : 1);
    })();
    return started;
  };
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => void shutdown(signal));
  return shutdown;
}

async function runWithin(closer: Closer, ms: number): Promise<"closed" | "timeout" | string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms);
  });
  try {
    return await Promise.race([Promise.resolve(closer.close()).then(() => "closed" as const), timeout]);
  } catch (error) {
    return `failed: ${(error as Error).message}`;
  } finally {
    clearTimeout(timer);
  }
}
