import { jetstream, type JetStreamClient } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Sql } from "postgres";
import { barMsgId, gatewayConfigSchema, natsNames, type ClosedBar, type GatewayConfig, type NatsNames } from "@gapfill/contracts";
import {
  type BarPageQuery,
  createLogger,
  createMetricsRegistry,
  loadConfig,
  type Logger,
  openStore,
  type Registry,
  type Store,
} from "@gapfill/kit";
import {
  connectTestNats,
  connectTestPostgres,
  deleteNamespaceStreams,
  dropTestSchema,
  provisionTestTopology,
  TEST_DATABASE_URL,
  TEST_NATS_URL,
  uniqueNamespace,
} from "@gapfill/testkit";
import type { FastifyInstance } from "fastify";
import type { AddressInfo } from "node:net";
import { buildApp, type GatewayStore, type GatewayTuning } from "../../src/index.ts";

export const SYMBOL = "BTCUSDT";

/**
 * One test file's isolated world on the real servers: a NATS namespace (streams, KV bucket) and a Postgres
 * schema holding price_15s and ml_predictions, both removed by `cleanup()`.
 */
export interface GatewayTestEnv {
  ns: string;
  nc: NatsConnection;
  js: JetStreamClient;
  names: NatsNames;
  store: Store;
  sql: Sql;
  log: Logger;
  /** The validated gateway config for this namespace and schema, with `env` on top. */
  config(env?: Record<string, string>): GatewayConfig;
  publishBars(bars: readonly ClosedBar[]): Promise<void>;
  cleanup(): Promise<void>;
}

export async function createGatewayTestEnv(options: { sessionTtlSeconds?: number } = {}): Promise<GatewayTestEnv> {
  const ns = uniqueNamespace();
  const log = createLogger({ service: "gateway-test", level: (process.env.TEST_LOG_LEVEL as "silent") ?? "silent" });
  const nc = await connectTestNats();
  await provisionTestTopology(nc, ns, options.sessionTtlSeconds ? { sessionTtlSeconds: options.sessionTtlSeconds } : {});
  const sql = connectTestPostgres();
  const baseEnv = {
    NATS_URL: TEST_NATS_URL,
    NATS_NAMESPACE: ns,
    DATABASE_URL: TEST_DATABASE_URL,
    DATABASE_SCHEMA: ns,
    LOG_LEVEL: "silent",
  };
  const config = (env: Record<string, string> = {}) => loadConfig(gatewayConfigSchema, "gateway", { ...baseEnv, ...env });
  const store = await openStore(config(), { log, access: "write" });
  const js = jetstream(nc);
  const names = natsNames(ns);
  return {
    ns,
    nc,
    js,
    names,
    store,
    sql,
    log,
    config,
    async publishBars(bars) {
      // Pipelined in batches: thousands of bars in a second or two, in order per subject.
      for (let i = 0; i < bars.length; i += 2000) {
        const batch = bars.slice(i, i + 2000);
        await Promise.all(
          batch.map((bar) => js.publish(names.subjects.bars(bar.symbol), JSON.stringify(bar), { msgID: barMsgId(bar.symbol, bar.ts) })),
        );
      }
    },
    async cleanup() {
      await store.close();
      await deleteNamespaceStreams(nc, ns);
      await dropTestSchema(sql, ns);
      await sql.end();
      await nc.close();
    },
  };
}

export interface RunningGateway {
  app: FastifyInstance;
  /** The gateway's metrics (served on the metrics port in production). */
  registry: Registry;
  /** `http://127.0.0.1:<port>` when listening. */
  url: string;
  close(): Promise<void>;
}

/** A gateway in this process on the env's NATS namespace and store; listening on a free port when asked. */
export async function startGateway(
  env: GatewayTestEnv,
  {
    config = env.config(),
    tuning,
    listen = false,
    now,
    log = env.log,
    store = env.store,
    configure,
  }: {
    config?: GatewayConfig;
    tuning?: Partial<GatewayTuning>;
    listen?: boolean;
    now?: () => number;
    log?: Logger;
    /** The env's store, or a wrapper around it (e.g. one that counts reads). */
    store?: GatewayStore;
    /** Called before the app is ready, e.g. to add a hook that holds requests at a chosen point. */
    configure?: (app: FastifyInstance) => void;
  } = {},
): Promise<RunningGateway> {
  const registry = createMetricsRegistry("gateway");
  const app = await buildApp({ config, log, nc: env.nc, store, registry, tuning, now });
  configure?.(app);
  let url = "";
  if (listen) {
    await app.listen({ port: 0, host: "127.0.0.1" });
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  } else {
    await app.ready();
  }
  return { app, registry, url, close: () => app.close() };
}

/** The store, with every pageNewestFirst call's query appended to `reads` (the gateway reads nothing else per page). */
export function countingReads(store: GatewayStore, reads: BarPageQuery[]): GatewayStore {
  return {
    kind: store.kind,
    lastBarTs: (symbol) => store.lastBarTs(symbol),
    pageNewestFirst: (symbol, query) => {
      reads.push(query);
      return store.pageNewestFirst(symbol, query);
    },
    upsertBars: (bars) => store.upsertBars(bars),
    newestPrediction: (symbol, modelVersion) => store.newestPrediction(symbol, modelVersion),
    predictionsSince: (symbol, query) => store.predictionsSince(symbol, query),
    ping: () => store.ping(),
    close: () => store.close(),
  };
}
