/**
 * Each stream and bucket has one owner, the provisioning step: services started with other retention settings in
 * their environment (as two services configured differently would be) change nothing they do not own.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { nanos } from "@nats-io/transport-node";
import { natsNames } from "@gapfill/contracts";
import { runService, type NatsConnection, type ServiceRun } from "@gapfill/kit";
import { gatewayService } from "@gapfill/gateway";
import { ingestorService } from "@gapfill/ingestor";
import { recorderService } from "@gapfill/recorder";
import {
  connectTestNats,
  connectTestPostgres,
  deleteNamespaceStreams,
  dropTestSchema,
  freePort,
  TEST_DATABASE_URL,
  TEST_NATS_URL,
  uniqueNamespace,
  waitFor,
} from "@gapfill/testkit";
import { provisionService } from "../src/index.ts";

const ns = uniqueNamespace();
const names = natsNames(ns);
const HOUR_MS = 3_600_000;
let nc: NatsConnection;
let jsm: JetStreamManager;
/** Stands in for Binance: records that the ingestor asked (so it has started) and answers nothing useful. */
let binance: Server;
const binanceRequests: string[] = [];
const runs: ServiceRun[] = [];

const dataDir = mkdtempSync(join(tmpdir(), "gapfill-owner-"));
const common = { NATS_URL: TEST_NATS_URL, NATS_NAMESPACE: ns, LOG_LEVEL: "silent", DATA_DIR: dataDir };
const noExit = () => {};

beforeAll(async () => {
  nc = await connectTestNats();
  jsm = await jetstreamManager(nc);
  binance = createServer((req, res) => {
    binanceRequests.push(req.url ?? "");
    res.writeHead(503).end();
  });
  await new Promise<void>((resolve) => binance.listen(0, "127.0.0.1", resolve));
});

afterAll(async () => {
  for (const run of runs) await run.stop();
  binance.close();
  await deleteNamespaceStreams(nc, ns);
  const sql = connectTestPostgres();
  await dropTestSchema(sql, ns);
  await sql.end();
  await nc.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const barsMaxAge = async () => (await jsm.streams.info(names.streams.bars)).config.max_age;
const sessionTtl = async () => (await (await new Kvm(nc).open(names.buckets.sessions)).status()).ttl;

it("lets only the provisioning step set retention: services with other settings leave streams and buckets as provisioned", async () => {
  const provisioned = await runService(provisionService, { env: { ...common, BARS_MAX_AGE_HOURS: "100", SESSION_TTL_SECONDS: "900" }, exit: noExit });
  expect(await provisioned.exitCode).toBe(0);
  expect(await barsMaxAge()).toBe(nanos(100 * HOUR_MS));
  expect(await sessionTtl()).toBe(900_000);

  const otherSettings = { BARS_MAX_AGE_HOURS: "1", SESSION_TTL_SECONDS: "60", JETSTREAM_REPLICAS: "1" };
  const [gatewayPort, metricsPorts] = [await freePort(), [await freePort(), await freePort(), await freePort()]];
  const binanceUrl = `http://127.0.0.1:${(binance.address() as AddressInfo).port}`;
  runs.push(
    await runService(ingestorService, {
      env: { ...common, ...otherSettings, BINANCE_REST_URL: binanceUrl, BINANCE_WS_URL: binanceUrl.replace("http", "ws"), INGESTOR_METRICS_PORT: String(metricsPorts[0]) },
      exit: noExit,
    }),
    await runService(recorderService, {
      env: { ...common, ...otherSettings, DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: ns, RECORDER_METRICS_PORT: String(metricsPorts[1]) },
      exit: noExit,
    }),
    await runService(gatewayService, {
      env: { ...common, ...otherSettings, DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: ns, PORT: String(gatewayPort), HOST: "127.0.0.1", GATEWAY_METRICS_PORT: String(metricsPorts[2]) },
      exit: noExit,
    }),
  );
  // Each has started: the recorder and gateway are ready, the ingestor is asking Binance for its limits.
  for (const port of metricsPorts.slice(1)) {
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok, { timeoutMs: 30_000, what: `readiness on ${port}` });
  }
  await waitFor(() => binanceRequests.some((url) => url.startsWith("/api/v3/exchangeInfo")), { what: "the ingestor to start" });
  expect(await barsMaxAge()).toBe(nanos(100 * HOUR_MS));
  expect(await sessionTtl()).toBe(900_000);
  // The session a gateway hands out lives as long as the bucket keeps it.
  const token = await fetch(`http://127.0.0.1:${gatewayPort}/dev/token`, { method: "POST" }).then((r) => r.json() as Promise<{ access_token: string }>);
  const session = await fetch(`http://127.0.0.1:${gatewayPort}/session/start`, {
    method: "POST",
    headers: { authorization: `Bearer ${token.access_token}`, "content-type": "application/json" },
    body: "{}",
  }).then((r) => r.json() as Promise<{ expires_at: number }>);
  expect(session.expires_at - Date.now()).toBeGreaterThan(890_000);
  expect(session.expires_at - Date.now()).toBeLessThanOrEqual(900_000);

  // The owner changes them.
  const changed = await runService(provisionService, { env: { ...common, BARS_MAX_AGE_HOURS: "50" }, exit: noExit });
  expect(await changed.exitCode).toBe(0);
  expect(await barsMaxAge()).toBe(nanos(50 * HOUR_MS));
  expect(await sessionTtl()).toBe(1_800_000);
}, 90_000);
