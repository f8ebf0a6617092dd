/**
 * The stack under test, every part a real process of its own: a 3-node NATS cluster, a private PostgreSQL, the
 * Binance simulator, the topology provisioned with 3 replicas, a recorder, two ingestors publishing one series and
 * two gateways sharing sessions through the KV bucket (no balancer: clients pick a gateway themselves).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { natsNames, type NatsNames } from "@gapfill/contracts";
import { REPO_ROOT, TYPESCRIPT_NODE_ARGS } from "@gapfill/kit";
import { freePort } from "@gapfill/testkit";
import { startNatsCluster, type NatsCluster } from "./cluster.ts";
import { startPrivatePostgres, type PrivatePostgres } from "./database.ts";
import type { Fleet, ManagedProcess } from "./processes.ts";

export const SYMBOL = "BTCUSDT";
const NAMESPACE = "chaos";
const SCHEMA = "chaos";

/**
 * Settings that make the soak short and busy: an hour of simulated history (also the backfill), sessions that expire
 * and live streams that end often, so clients resume across gateways many times in a few minutes.
 */
export const STACK_SETTINGS = {
  SIM_HISTORY_HOURS: "1",
  INGEST_BACKFILL_HOURS: "1",
  SESSION_TTL_SECONDS: "90",
  GAP_STREAM_MAX_MINUTES: "0.75",
  BARS_MAX_AGE_HOURS: "24",
  JETSTREAM_REPLICAS: "3",
} as const;

export interface Gateway {
  process: ManagedProcess;
  url: string;
}

export interface ChaosStack {
  cluster: NatsCluster;
  database: PrivatePostgres;
  schema: string;
  names: NatsNames;
  sim: ManagedProcess;
  simUrl: string;
  recorder: ManagedProcess;
  ingestors: ManagedProcess[];
  gateways: Gateway[];
}

async function answersOk(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(2000) })).ok;
  } catch {
    return false;
  }
}

const serviceArgs = (service: string) => [...TYPESCRIPT_NODE_ARGS, join(REPO_ROOT, "services", service, "src", "main.ts")];

/**
 * Starts the whole stack, its servers' data and the services' DATA_DIR under `dataRoot`, and waits until every
 * service is ready (the ingestors have backfilled).
 */
export async function startStack(fleet: Fleet, dataRoot: string, seed: number): Promise<ChaosStack> {
  const dataDir = join(dataRoot, "services");
  mkdirSync(dataDir, { recursive: true });
  const cluster = await startNatsCluster(fleet, join(dataRoot, "nats"));
  const database = await startPrivatePostgres(fleet, join(dataRoot, "postgres"));
  const names = natsNames(NAMESPACE);

  const base: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? dataRoot,
    LOG_LEVEL: "info",
    LOG_FORMAT: "json",
    NATS_URL: cluster.url,
    NATS_NAMESPACE: NAMESPACE,
    BINANCE_SYMBOL: SYMBOL,
    METRICS_HOST: "127.0.0.1",
    DATA_DIR: dataDir,
  };
  const service = (name: string, dir: string, env: Record<string, string>, ready: () => Promise<boolean>) =>
    fleet.add({ name, command: process.execPath, args: serviceArgs(dir), cwd: REPO_ROOT, env: { ...base, ...env }, ready });
  const metricsService = async (name: string, dir: string, portVariable: string, env: Record<string, string>) => {
    const port = await freePort();
    return service(name, dir, { ...env, [portVariable]: String(port) }, () => answersOk(`http://127.0.0.1:${port}/readyz`));
  };

  const simPort = await freePort();
  const simUrl = `http://127.0.0.1:${simPort}`;
  const sim = service(
    "sim",
    "binance-sim",
    {
      SIM_PORT: String(simPort),
      SIM_HOST: "127.0.0.1",
      SIM_SEED: String(seed),
      SIM_HISTORY_HOURS: STACK_SETTINGS.SIM_HISTORY_HOURS,
      // Fixed, so the market would be the same were the simulator restarted.
      SIM_TAPE_START: String(Date.now() - Number(STACK_SETTINGS.SIM_HISTORY_HOURS) * 3_600_000),
      SIM_SPEED: "1",
    },
    () => answersOk(`${simUrl}/api/v3/ping`),
  );
  sim.start();
  await sim.waitReady(60_000);

  const provisioned = await fleet.runToEnd({
    name: "provision",
    command: process.execPath,
    args: serviceArgs("provision"),
    cwd: REPO_ROOT,
    env: {
      ...base,
      JETSTREAM_REPLICAS: STACK_SETTINGS.JETSTREAM_REPLICAS,
      SESSION_TTL_SECONDS: STACK_SETTINGS.SESSION_TTL_SECONDS,
      BARS_MAX_AGE_HOURS: STACK_SETTINGS.BARS_MAX_AGE_HOURS,
    },
  });
  if (provisioned !== 0) throw new Error(`provision exited with status ${provisioned}: see its log`);

  const store = { DATABASE_URL: database.url, DATABASE_SCHEMA: SCHEMA };
  const recorder = await metricsService("recorder", "recorder", "RECORDER_METRICS_PORT", store);
  const ingestors = [];
  for (const name of ["ingestor-1", "ingestor-2"]) {
    ingestors.push(
      await metricsService(name, "ingestor", "INGESTOR_METRICS_PORT", {
        BINANCE_REST_URL: simUrl,
        BINANCE_WS_URL: `ws://127.0.0.1:${simPort}`,
        INGEST_BACKFILL_HOURS: STACK_SETTINGS.INGEST_BACKFILL_HOURS,
      }),
    );
  }
  // Both gateways sign and accept the same local tokens, as replicas behind one domain would.
  const secret = `chaos-local-secret-${seed}-0123456789abcdef0123456789`;
  const gateways: Gateway[] = [];
  for (const name of ["gateway-1", "gateway-2"]) {
    const port = await freePort();
    const proc = await metricsService(name, "gateway", "GATEWAY_METRICS_PORT", {
      ...store,
      PORT: String(port),
      HOST: "127.0.0.1",
      LOCAL_JWT_SECRET: secret,
      GAP_STREAM_MAX_MINUTES: STACK_SETTINGS.GAP_STREAM_MAX_MINUTES,
      // The clients stand for many browsers but all come from 127.0.0.1: the per-address limits would take them for one.
      MAX_CONNECTIONS_PER_IP: "1000000",
      FAILURES_PER_MINUTE: "1000000",
    });
    gateways.push({ process: proc, url: `http://127.0.0.1:${port}` });
  }
  const services = [recorder, ...ingestors, ...gateways.map((g) => g.process)];
  for (const proc of services) proc.start();
  await Promise.all(services.map((proc) => proc.waitReady(180_000)));
  return {
    cluster,
    database,
    schema: SCHEMA,
    names,
    sim,
    simUrl,
    recorder,
    ingestors,
    gateways,
  };
}
