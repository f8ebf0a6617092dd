/**
 * One lifecycle for every service: `runService(spec)` reads the configuration, creates the logger and metrics, connects
 * to NATS and waits for the streams the service needs, starts it, serves /metrics, /healthz and /readyz, stops it on
 * SIGTERM/SIGINT and exits with one policy: 0 after a clean stop, 78 (EX_CONFIG) for a configuration that cannot
 * work, 1 for any other failure. Every `main.ts` is `await runService(<name>Service)`.
 */
import type { z } from "zod";
import { natsNames, type NatsNames } from "@gapfill/contracts";
import { ConfigurationError, loadConfig, type Env } from "./config.ts";
import { awaitTopology, type TopologyNeed } from "./jetstream.ts";
import { createLogger, type Logger } from "./log.ts";
import { createMetricsRegistry, serveMetrics, type Registry } from "./metrics.ts";
import { connectNats, type NatsConnection } from "./nats.ts";
import { handleShutdown, type Closer } from "./shutdown.ts";

/** What a started service hands back; the same three members for every service. */
export interface ServiceLifecycle {
  /** Resolves once the service does its job (following the market, consuming, listening); rejects if it never will. */
  ready: Promise<void>;
  /** Settles when the service has ended: resolves after stop() (or when a one-shot job finished), rejects when it failed. */
  done: Promise<void>;
  /** Stops taking work, finishes or hands back what it holds, releases what start() opened. Idempotent. */
  stop(): Promise<void>;
}

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
/** EX_CONFIG: restarting cannot help; the stack supervisor stops instead of restarting. */
export const EXIT_CONFIG = 78;

export function exitCodeFor(error: unknown): number {
  return error instanceof ConfigurationError ? EXIT_CONFIG : EXIT_FAILED;
}

interface BaseContext<C> {
  config: C;
  log: Logger;
  registry: Registry;
  /** Aborted when the process is asked to stop: whatever start() waits on (a database, a peer) gives up then. */
  signal: AbortSignal;
}
export type PlainServiceContext<C> = BaseContext<C>;
export interface NatsServiceContext<C> extends BaseContext<C> {
  /** Connected, reconnecting for ever; drained by runService after stop(). */
  nc: NatsConnection;
  names: NatsNames;
}

interface BaseSpec<S extends z.ZodType> {
  /** Service name: logs, metrics label, NATS client name (`gapfill-<name>`). */
  name: string;
  configSchema: S;
  /** Where /metrics, /healthz and /readyz listen; omitted for services that serve nothing of the kind. */
  metrics?: (config: z.infer<S>) => { port: number; host: string };
}
export interface NatsServiceSpec<S extends z.ZodType> extends BaseSpec<S> {
  /** The streams and buckets the service uses; it waits until they exist and never creates them. */
  needs: readonly TopologyNeed[];
  start(ctx: NatsServiceContext<z.infer<S>>): Promise<ServiceLifecycle>;
}
export interface PlainServiceSpec<S extends z.ZodType> extends BaseSpec<S> {
  needs?: undefined;
  start(ctx: PlainServiceContext<z.infer<S>>): Promise<ServiceLifecycle>;
}
export type ServiceSpec<S extends z.ZodType> = NatsServiceSpec<S> | PlainServiceSpec<S>;

export interface RunServiceOptions {
  env?: Env;
  /** Called once with the exit status (default process.exit). */
  exit?: (code: number) => void;
  /** Bound on the whole shutdown (every step together). */
  shutdownTimeoutMs?: number;
}

type WithLogging = { LOG_LEVEL?: Parameters<typeof createLogger>[0]["level"]; LOG_FORMAT?: "json" | "pretty" };
type WithNats = { NATS_URL: string; NATS_NAMESPACE: string };

/** A service run by runService: what tests and embedders use to stop it without a signal. */
export interface ServiceRun {
  /** Resolves with the exit status once the run has ended (after exit() was called with it). */
  exitCode: Promise<number>;
  /** Stops the service as SIGTERM would; resolves with the exit status. */
  stop(): Promise<number>;
}

/**
 * Runs a service in this process until it stops; returns at once with a handle (start-up goes on in the background and
 * ends in exit() on failure).
 */
export async function runService<S extends z.ZodType>(spec: ServiceSpec<S>, options: RunServiceOptions = {}): Promise<ServiceRun> {
  const processExit = options.exit ?? ((code: number) => process.exit(code));
  let settle!: (code: number) => void;
  const exitCode = new Promise<number>((resolve) => (settle = resolve));
  const exit = (code: number) => {
    settle(code);
    processExit(code);
  };
  let config: z.infer<S>;
  try {
    config = loadConfig(spec.configSchema, spec.name, options.env);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    exit(exitCodeFor(error));
    return { exitCode, stop: () => exitCode };
  }
  const { LOG_LEVEL, LOG_FORMAT } = config as WithLogging;
  const log = createLogger({ service: spec.name, level: LOG_LEVEL, ...(LOG_FORMAT ? { pretty: LOG_FORMAT === "pretty" } : {}) });
  const registry = createMetricsRegistry(spec.name);
  const health = { ready: false, ending: false };
  const starting = new AbortController();
  let service: ServiceLifecycle | null = null;
  let nc: NatsConnection | null = null;
  let metrics: Awaited<ReturnType<typeof serveMetrics>> | null = null;

  const closers: Closer[] = [
    {
      name: spec.name,
      close: async () => {
        starting.abort(new Error("stopping"));
        await service?.stop();
      },
    },
    { name: "metrics", close: () => metrics?.close() },
    { name: "nats", close: () => nc?.drain() },
  ];
  const shutdown = handleShutdown(log, closers, {
    exit,
    ...(options.shutdownTimeoutMs ? { timeoutMs: options.shutdownTimeoutMs } : {}),
  });
  let failed = false;
  /** The first failure wins: it is logged once and decides the exit status. */
  const run: ServiceRun = {
    exitCode,
    stop: async () => {
      await shutdown("stop requested");
      return exitCode;
    },
  };
  const fail = (error: unknown) => {
    if (failed) return;
    failed = true;
    health.ending = true;
    log.fatal({ err: error }, `${spec.name} failed`);
    void shutdown("failure", { exitCode: exitCodeFor(error) });
  };

  void (async () => {
    try {
      const where = spec.metrics?.(config);
      if (where) {
        metrics = await serveMetrics(registry, where.port, where.host, () =>
          health.ending ? "stopping" : health.ready ? null : "starting",
        );
      }
      if (spec.needs) {
        const { NATS_URL, NATS_NAMESPACE } = config as WithNats;
        nc = await connectNats({ url: NATS_URL, name: `gapfill-${spec.name}`, log });
        const names = natsNames(NATS_NAMESPACE);
        await awaitTopology(nc, names, spec.needs, { log, signal: starting.signal });
        service = await spec.start({ config, log, registry, signal: starting.signal, nc, names });
      } else {
        service = await spec.start({ config, log, registry, signal: starting.signal });
      }
    } catch (error) {
      // Unless a stop arrived during start-up (then the shutdown is already under way), this is a failure.
      if (!starting.signal.aborted) fail(error);
      return;
    }
    log.info({ metricsPort: metrics?.port ?? null }, `${spec.name} started`);
    service.ready.then(() => {
      health.ready = true;
      log.info(`${spec.name} ready`);
    }, fail);
    service.done.then(() => void shutdown("done"), fail);
  })();
  return run;
}
