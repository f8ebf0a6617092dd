/**
 * The recorder as deployed (src/main.ts in its own OS process) under faults: 20,000 bars, the
 * database's connections terminated mid-run, the database cut off twice (once past the ack wait, once with the
 * recorder killed while it holds an unwritten batch), and a new recorder process on the same durable consumer.
 * The table must end equal to the stream, row for row and field for field.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { natsNames } from "@gapfill/contracts";
import { createLogger, openPostgresStore } from "@gapfill/kit";
import {
  connectTestNats,
  connectTestPostgres,
  deleteNamespaceStreams,
  dropTestSchema,
  provisionTestTopology,
  publishBars,
  readStreamBars,
  type ServiceProcess,
  type Sql,
  startServiceProcess,
  startTcpProxy,
  type TcpProxy,
  TEST_DATABASE_URL,
  TEST_NATS_URL,
  TEST_SERIES_START,
  testBars,
  testDatabaseAddress,
  testDatabaseUrlVia,
  uniqueNamespace,
  waitFor,
} from "@gapfill/testkit";
import { RECORDER_DURABLE } from "../src/index.ts";
import { consumerState, rowCount, tableBars } from "./support.ts";

const MAIN = join(import.meta.dirname, "..", "src", "main.ts");
const SYMBOLS = ["BTCUSDT", "ETHUSDT"];
const WRITE_FAILED = "store write failed; retrying (bars stay in JetStream)";

const startRecorderProcess = (env: Record<string, string>) => startServiceProcess(MAIN, env);

let nc: NatsConnection;
let admin: Sql;
let proxy: TcpProxy;
const ns = uniqueNamespace();
const processes: ServiceProcess[] = [];

beforeAll(async () => {
  nc = await connectTestNats();
  admin = connectTestPostgres();
  proxy = await startTcpProxy(testDatabaseAddress());
  await provisionTestTopology(nc, ns, { barsMaxAgeHours: 24 });
});

afterAll(async () => {
  await Promise.all(processes.map((p) => p.kill()));
  await proxy.close();
  await deleteNamespaceStreams(nc, ns);
  await dropTestSchema(admin, ns);
  await nc.close();
  await admin.end();
});

describe("recorder process under faults", () => {
  it("ends with the table equal to the stream after connection kills, outages and a kill -9 mid-batch", { timeout: 180_000 }, async () => {
    const env = {
      NATS_URL: TEST_NATS_URL,
      NATS_NAMESPACE: ns,
      DATABASE_URL: testDatabaseUrlVia(proxy.port),
      DATABASE_SCHEMA: ns,
      BINANCE_SYMBOL: SYMBOLS.join(","),
      RECORDER_BATCH_SIZE: "500",
      RECORDER_BATCH_MS: "100",
      RECORDER_ACK_WAIT_MS: "2000",
      RECORDER_METRICS_PORT: "0",
      LOG_FORMAT: "json",
      LOG_LEVEL: "info",
    };
    const series = Object.fromEntries(SYMBOLS.map((symbol, i) => [symbol, testBars(symbol, TEST_SERIES_START, 10_000, i + 1)]));
    const part = (from: number, to: number) => SYMBOLS.flatMap((symbol) => series[symbol]!.slice(from, to));
    const stream = natsNames(ns).streams.bars;
    const failures = (p: ServiceProcess) => p.logs.filter((l) => l.msg === WRITE_FAILED);

    const a = startRecorderProcess(env);
    processes.push(a);
    await waitFor(() => a.logs.find((l) => l.msg === "recorder started") ?? (a.child.exitCode !== null && a.stderr.join("\n")), { what: "recorder A to start", timeoutMs: 30_000 });
    expect(a.child.exitCode).toBeNull();

    // Part 1 (8,000 bars); mid-run, the database terminates the recorder's connections.
    const part1 = publishBars(nc, ns, part(0, 4000), 64);
    await waitFor(async () => (await rowCount(admin, ns)) >= 2000, { what: "2,000 rows", timeoutMs: 30_000 });
    const killed = await admin`select pg_terminate_backend(pid) from pg_stat_activity where client_addr = '127.0.0.1' and client_port = any(${proxy.upstreamPorts()})`;
    expect(killed.length).toBeGreaterThan(0);

    // Then the database is cut off for longer than the ack wait: the recorder retries and keeps its bars claimed.
    await waitFor(async () => (await rowCount(admin, ns)) >= 5000, { what: "5,000 rows", timeoutMs: 30_000 });
    proxy.sever();
    const before = failures(a).length;
    await waitFor(() => failures(a).length >= before + 5, { what: "five failed writes", timeoutMs: 30_000 });
    const held = await consumerState(nc, stream, RECORDER_DURABLE);
    expect(held.ackPending).toBeGreaterThan(0);
    expect(held.redelivered).toBe(0);
    proxy.restore();
    expect(await part1).toBe(8000);

    // Part 2 (6,000 bars) with the database back.
    const part2 = publishBars(nc, ns, part(4000, 7000), 64);
    await waitFor(async () => (await rowCount(admin, ns)) >= 10_000, { what: "10,000 rows", timeoutMs: 30_000 });
    expect(await part2).toBe(6000);

    // Part 3 (6,000 bars) arrives while the database is cut off; the recorder is killed holding an unwritten batch.
    proxy.sever();
    const part3 = publishBars(nc, ns, part(7000, 10_000), 64);
    const failedSoFar = failures(a).length;
    await waitFor(() => failures(a).length > failedSoFar, { what: "a failed write in part 3", timeoutMs: 30_000 });
    expect((await consumerState(nc, stream, RECORDER_DURABLE)).ackPending).toBeGreaterThan(0);
    a.child.kill("SIGKILL");
    expect((await a.exited).signal).toBe("SIGKILL");
    proxy.restore();
    expect(await part3).toBe(6000);

    // A new recorder process on the same durable consumer finishes the job, A's held bars after the ack wait.
    const b = startRecorderProcess(env);
    processes.push(b);
    await waitFor(async () => (await rowCount(admin, ns)) === 20_000, { what: "20,000 rows", timeoutMs: 60_000 });
    await waitFor(async () => (await consumerState(nc, stream, RECORDER_DURABLE)).ackPending === 0, { what: "every bar acked", timeoutMs: 30_000 });

    const truth = await readStreamBars(nc, ns);
    expect(truth.size).toBe(20_000);
    const check = await openPostgresStore({ url: TEST_DATABASE_URL, prepare: true, schema: ns, log: createLogger({ service: "check", level: "silent" }) });
    const table = await tableBars(check, SYMBOLS);
    await check.close();
    expect(table.size).toBe(20_000);
    expect(table).toEqual(truth);
    expect(await consumerState(nc, stream, RECORDER_DURABLE)).toMatchObject({ pending: 0, ackPending: 0 });

    // B serves its metrics and reports no lag once level.
    const metricsPort = b.logs.find((l) => l.msg === "recorder started")?.metricsPort as number;
    await waitFor(
      async () => {
        const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
        return SYMBOLS.every((symbol) => text.includes(`recorder_lag_seconds{symbol="${symbol}",service="recorder"} 0`)) && text;
      },
      { what: "zero lag in /metrics", timeoutMs: 20_000 },
    );

    // A clean stop: SIGTERM drains and exits 0.
    b.child.kill("SIGTERM");
    expect((await b.exited).code).toBe(0);
    expect(b.logs.some((l) => l.msg === "recorder stopped")).toBe(true);
  });

  it("refuses to start in Supabase mode without a key allowed to write, naming the variable (exit 78)", async () => {
    const p = startRecorderProcess({
      NATS_URL: TEST_NATS_URL,
      NATS_NAMESPACE: ns,
      SUPABASE_URL: "http://127.0.0.1:9",
      SUPABASE_ANON_KEY: "sb_publishable_only_reads",
      LOG_FORMAT: "json",
      DATABASE_URL: "",
    });
    processes.push(p);
    expect((await p.exited).code).toBe(78);
    expect(p.stderr.join("\n")).toMatch(/needs a key allowed to write.*set SUPABASE_API_KEY/);
  });
});
