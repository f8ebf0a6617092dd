import { basename, join } from "node:path";
import { embedderConfigSchema, schedulerConfigSchema, type StackConfig } from "@gapfill/contracts";
import {
  createLogger,
  embeddedDbFile,
  EXIT_CONFIG,
  redactUrlCredentials,
  REPO_ROOT,
  resolveDataDir,
  TYPESCRIPT_NODE_ARGS,
  waitFor,
} from "@gapfill/kit";
import { demoIsolation, resetDemoData } from "./demo-isolation.ts";
import { natsAnswers, startLocalNatsServer, type LocalNatsServer } from "./local-nats.ts";
import { Supervisor } from "./supervisor.ts";

export type StackMode = "live" | "demo";

/** Services in start order; the simulator only in the demo. */
const SERVICES = ["recorder", "embedder", "scheduler", "ingestor", "gateway", "ml-runner", "ml-infer"] as const;

/** The demo ticks often enough to watch: a retrain every 2 minutes, an inference every 30 s (unless set). */
const DEMO_TICK_INTERVALS = { ML_INTERVAL_SECONDS: "120", INFER_INTERVAL_SECONDS: "30" } as const;

/** The tick intervals the scheduler will use with this environment (its defaults where unset). */
function tickIntervals(env: Record<string, string | undefined>): string {
  const seconds = (variable: keyof typeof DEMO_TICK_INTERVALS) => {
    const parsed = schedulerConfigSchema.shape[variable].safeParse(env[variable] || undefined);
    return parsed.success ? `${parsed.data} s` : `an invalid ${variable} (the scheduler will say why)`;
  };
  return `retrain every ${seconds("ML_INTERVAL_SECONDS")}, infer every ${seconds("INFER_INTERVAL_SECONDS")}`;
}

/** Who fills ai_outputs with this environment. */
function embeddingsProducer(env: Record<string, string | undefined>): string {
  const enabled = embedderConfigSchema.shape.EMBEDDER.safeParse(env.EMBEDDER || undefined);
  if (!enabled.success) return "an invalid EMBEDDER (the embedder will say why)";
  return enabled.data ? "the embedder writes ai_outputs" : "EMBEDDER=off: ai_outputs is left to an external producer";
}

export interface StackOptions {
  mode: StackMode;
  config: StackConfig;
  /** Environment handed to every service (default: this process's). */
  env?: NodeJS.ProcessEnv;
  write?: (text: string) => void;
  color?: boolean;
  /** Called when the stack cannot go on (a service refused its configuration). */
  onFatal?: (reason: string) => void;
  /** Aborting it during start-up stops what was started so far and rejects. */
  signal?: AbortSignal;
}

export interface RunningStack {
  gatewayUrl: string;
  natsUrl: string;
  /** The nats-server this stack started, when none answered at NATS_URL. */
  localNats: LocalNatsServer | null;
  supervisor: Supervisor;
  /** Resolves once the gateway's /readyz answers 200. */
  ready(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

async function httpOk(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
    return response.ok;
  } catch {
    return false;
  }
}

/**
 * The whole stack on one machine: NATS (the one at NATS_URL, or a local nats-server), in the demo the Binance
 * simulator, then recorder, embedder, scheduler, ingestor, gateway, ml-runner and ml-infer as supervised child
 * processes with prefixed logs.
 */
export async function runStack(options: StackOptions): Promise<RunningStack> {
  const { config, mode } = options;
  const write = options.write ?? ((text: string) => process.stdout.write(text));
  const names = mode === "demo" ? ["stack", "nats", "sim", "provision", ...SERVICES] : ["stack", "nats", "provision", ...SERVICES];
  const env = options.env ?? process.env;
  // Checked before anything starts: a demo that cannot be kept apart from live data does not run at all.
  const demo = mode === "demo" ? demoIsolation(env) : null;
  let fatal: (reason: string) => void = options.onFatal ?? (() => {});
  const supervisor = new Supervisor(write, (reason) => fatal(reason), options.color ?? false, names);
  const say = (text: string) => supervisor.line("stack", text);

  let localNats: LocalNatsServer | null = null;
  let stopped: Promise<void> | null = null;
  const stop = () =>
    (stopped ??= (async () => {
      say("stopping services");
      await supervisor.stopAll();
      if (localNats) {
        say("stopping nats-server");
        await localNats.stop();
      }
      say("stopped");
    })());
  fatal = (reason) => {
    say(`cannot continue: ${reason}`);
    void stop().then(() => options.onFatal?.(reason));
  };

  try {
    if (await natsAnswers(config.NATS_URL)) {
      say(`using the NATS server at ${redactUrlCredentials(config.NATS_URL)}`);
    } else {
      say(`no NATS server answers at ${redactUrlCredentials(config.NATS_URL)}; starting ${config.NATS_SERVER_BIN} with nats.conf`);
      localNats = await startLocalNatsServer({
        bin: config.NATS_SERVER_BIN,
        url: config.NATS_URL,
        confPath: join(REPO_ROOT, "nats.conf"),
        storeDir: join(resolveDataDir(config.DATA_DIR), "nats"),
        onOutput: (line) => supervisor.line("nats", line),
      });
    }
    options.signal?.throwIfAborted();

    const baseEnv: Record<string, string | undefined> = {
      ...env,
      NATS_URL: config.NATS_URL,
      DATA_DIR: resolveDataDir(config.DATA_DIR),
      PORT: String(config.PORT),
      LOG_LEVEL: config.LOG_LEVEL,
      LOG_FORMAT: env.LOG_FORMAT ?? (options.color ? "pretty" : "json"),
    };
    const nodeArgs = (service: string) => [...TYPESCRIPT_NODE_ARGS, join(REPO_ROOT, "services", service, "src", "main.ts")];

    if (demo) {
      const simUrl = `http://127.0.0.1:${config.SIM_PORT}`;
      say(`DEMO MODE: prices are SIMULATED by the Binance simulator at ${simUrl}, not real Binance data`);
      baseEnv.NATS_NAMESPACE = demo.namespace;
      for (const name of demo.ignored) delete baseEnv[name];
      say(
        `demo bars stay apart from live ones: NATS namespace "${demo.namespace}", embedded store ${embeddedDbFile(demo.namespace)}` +
          (demo.ignored.length > 0 ? `; not passed on: ${demo.ignored.join(", ")}` : ""),
      );
      if (await httpOk(`${simUrl}/api/v3/ping`)) {
        throw new Error(`something already answers at ${simUrl} (another demo?): stop it, or set SIM_PORT`);
      }
      // The tape start is fixed for the whole run, so a simulator the supervisor restarts serves the same market.
      const tapeStart = Date.now() - Math.round(config.SIM_HISTORY_HOURS * 3_600_000);
      const simEnv: Record<string, string | undefined> = { ...baseEnv, SIM_PORT: String(config.SIM_PORT), SIM_HISTORY_HOURS: String(config.SIM_HISTORY_HOURS) };
      if (!env.SIM_NOW && !env.SIM_TAPE_START) simEnv.SIM_TAPE_START = String(tapeStart);
      supervisor.start({ name: "sim", command: process.execPath, args: nodeArgs("binance-sim"), cwd: REPO_ROOT, env: simEnv });
      await waitFor(() => httpOk(`${simUrl}/api/v3/ping`), { timeoutMs: 60_000, intervalMs: 200, what: "the Binance simulator", signal: options.signal });
      const removed = await resetDemoData({
        natsUrl: config.NATS_URL,
        namespace: demo.namespace,
        dataDir: baseEnv.DATA_DIR!,
        log: createLogger({ service: "stack", level: "silent" }),
      });
      if (removed.length > 0) say(`fresh simulated market: removed the previous demo's ${removed.map((name) => basename(name)).join(", ")}`);
      baseEnv.BINANCE_REST_URL = simUrl;
      baseEnv.BINANCE_WS_URL = `ws://127.0.0.1:${config.SIM_PORT}`;
      for (const [variable, seconds] of Object.entries(DEMO_TICK_INTERVALS)) baseEnv[variable] ||= seconds;
      say(
        "demo ML loop: ml-runner trains a first model at the first retrain tick with enough embeddings (about 2 minutes in), " +
          "ml-infer loads it at once and predictions appear on the chart within about 3 minutes, then at every infer tick",
      );
    } else {
      say("live mode: the ingestor reads real Binance market data");
    }
    say(`ML inputs: ticks ${tickIntervals(baseEnv)} (ML_INTERVAL_SECONDS, INFER_INTERVAL_SECONDS); ${embeddingsProducer(baseEnv)}`);
    // The topology first: services wait for the streams and buckets they need, and never create them.
    const provisioned = await supervisor.runOnce({ name: "provision", command: process.execPath, args: nodeArgs("provision"), cwd: REPO_ROOT, env: baseEnv });
    if (provisioned !== 0) {
      throw new Error(
        provisioned === EXIT_CONFIG ? "provision refused its configuration (see above)" : `provision failed (exit ${provisioned}; see above)`,
      );
    }
    for (const service of SERVICES) {
      supervisor.start({ name: service, command: process.execPath, args: nodeArgs(service), cwd: REPO_ROOT, env: baseEnv });
    }
  } catch (error) {
    // Nothing started so far may outlive a failed start (a detached nats-server would keep its port).
    await stop();
    throw error;
  }

  const gatewayUrl = `http://127.0.0.1:${config.PORT}`;
  return {
    gatewayUrl,
    natsUrl: config.NATS_URL,
    localNats,
    supervisor,
    ready: async (timeoutMs = 120_000) => {
      await waitFor(() => httpOk(`${gatewayUrl}/readyz`), { timeoutMs, intervalMs: 200, what: "the gateway" });
    },
    stop,
  };
}
