/**
 * Gateway fan-out: 1k / 5k / 10k concurrent SSE clients on ONE gateway process (services/gateway/src/main.ts, real
 * NATS JetStream and Postgres), clients in a separate process. For each size it measures
 *   - delivery latency of a new bar to every client (p50/p99, median of 7 rounds): from the bar's publish to
 *     JetStream until each client has read it;
 *   - RSS per client: (gateway RSS with N live streams - RSS before they connected) / N, right after connecting and
 *     again after ten seconds without traffic; and the marginal RSS of one more client, the slope between 1k and
 *     10k clients (what connecting any number costs once, such as the young generation growing, cancels out);
 * and the same two figures for the floor: a bare node:http process writing the same event string to the same
 * number of sockets (latency from its first write). Floor and gateway hold their clients at the same time and their
 * rounds alternate, so both see the same machine. Also: session starts per second over HTTP against the floor
 * of a bare node:http process making only the two I/O calls a start needs (the seam read + KV create), driven
 * by the same client at the same concurrency.
 *
 * `npm run bench -- gateway-sse-fanout` (takes about two minutes; machine: 2 noisy cores, so medians and ratios).
 */
import { fork, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { jetstream } from "@nats-io/jetstream";
import { BAR_MS, barMsgId, lastClosedBarTs, natsNames, type ClosedBar } from "@gapfill/contracts";
import { createLogger, openPostgresStore, TYPESCRIPT_NODE_ARGS } from "@gapfill/kit";
import {
  connectTestNats,
  connectTestPostgres,
  deleteNamespaceStreams,
  dropTestSchema,
  median,
  provisionTestTopology,
  quantile,
  TEST_DATABASE_URL,
  TEST_NATS_URL,
  testBars,
  uniqueNamespace,
} from "@gapfill/testkit";
import { signLocalToken } from "../services/gateway/src/index.ts";
import { ask, now, runPool, startFloor, startGatewayProcess, stopProcess } from "./gateway-support.ts";

const SIZES = [1000, 5000, 10_000];
/** Measured rounds per size, after one warm-up round (JIT, first GC) that is not counted. */
const ROUNDS = 7;
const SESSION_STARTS = 3000;
const CONCURRENCY = 32;
const SYMBOL = "BTCUSDT";
const SECRET = "bench-local-secret-0123456789abcdef0123456789";
const here = dirname(fileURLToPath(import.meta.url));

function rssKb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"));
  return Number(line!.replace(/\D+/g, ""));
}

function startClients(): Promise<ChildProcess> {
  const child = fork(join(here, "gateway-sse-clients.ts"), [], { execArgv: [...TYPESCRIPT_NODE_ARGS], stdio: "inherit" });
  return ask(child, null, "started").then(() => child);
}

/** Latencies (ms) of one event to every client, from t0. Missing deliveries fail the benchmark. */
async function roundLatencies(clients: ChildProcess, id: string, emit: () => Promise<number>): Promise<number[]> {
  const received = ask<{ times: number[] }>(clients, { type: "expect", id, timeoutMs: 30_000 }, "received");
  // Let the clients arm the marker before the event goes out.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const t0 = await emit();
  const { times } = await received;
  const missing = times.filter((t) => Number.isNaN(t)).length;
  if (missing > 0) throw new Error(`${missing} of ${times.length} clients did not receive event ${id}`);
  return times.map((t) => t - t0);
}

const SETTLE_MS = 10_000;

/** One side of the comparison with its clients connected: the server's pid, RSS before and after, and one round. */
interface Side {
  pid: number;
  clients: ChildProcess;
  rssBeforeKb: number;
  rssAfterKb: number;
  /** Sends event `round` to every client; resolves with its time of sending (ms, comparable across processes). */
  emit(round: number): { id: string; send: () => Promise<number> };
  close(): Promise<void>;
}

async function connected(pid: number, urls: string[], localAddress: string): Promise<Pick<Side, "pid" | "clients" | "rssBeforeKb" | "rssAfterKb">> {
  const clients = await startClients();
  const rssBeforeKb = rssKb(pid);
  await ask(clients, { type: "connect", urls, localAddress }, "connected");
  return { pid, clients, rssBeforeKb, rssAfterKb: rssKb(pid) };
}

async function main(): Promise<void> {
  const ns = uniqueNamespace();
  const log = createLogger({ service: "bench", level: "warn" });
  const nc = await connectTestNats();
  const sql = connectTestPostgres();
  await provisionTestTopology(nc, ns, { sessionTtlSeconds: 3600 });
  const names = natsNames(ns);
  const js = jetstream(nc);
  const store = await openPostgresStore({ url: TEST_DATABASE_URL, prepare: true, schema: ns, log });
  const children: ChildProcess[] = [];
  try {
    // 200 bars in the stream and the table: sessions start at the live edge, so streams go live at once.
    const start = lastClosedBarTs(Date.now()) - 400 * BAR_MS;
    const history = testBars(SYMBOL, start, 200, 11);
    await Promise.all(history.map((bar) => js.publish(names.subjects.bars(SYMBOL), JSON.stringify(bar), { msgID: barMsgId(SYMBOL, bar.ts) })));
    await store.upsertBars(history);
    let nextTs = history.at(-1)!.ts + BAR_MS;

    const env = {
      NATS_URL: TEST_NATS_URL,
      NATS_NAMESPACE: ns,
      DATABASE_URL: TEST_DATABASE_URL,
      DATABASE_SCHEMA: ns,
      LOCAL_JWT_SECRET: SECRET,
      SESSION_START_PER_MINUTE: "1000000",
      GAP_STREAM_PER_MINUTE: "1000000",
      GAP_STREAM_MAX_MINUTES: "600",
      // Every client comes from 127.0.0.1 here: no per-address cap, and room for all of them.
      MAX_CONNECTIONS: "1000000",
      MAX_CONNECTIONS_PER_IP: "1000000",
      LOG_LEVEL: "error",
    };
    const { token } = await signLocalToken(new TextEncoder().encode(SECRET), { sub: "bench", ttlSeconds: 3600, nowMs: Date.now() });

    // Session starts per second, and the floor: a bare server making the same store query and KV create.
    let gateway = await startGatewayProcess(env);
    children.push(gateway.child);
    const sessionIds: string[] = [];
    const startSessionAt = async (base: string, ids: string[]) => {
      const response = await fetch(`${base}/session/start`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
      if (response.status !== 201) throw new Error(`${base}/session/start answered ${response.status}`);
      ids.push(((await response.json()) as { session_id: string }).session_id);
    };
    const startSession = () => startSessionAt(gateway.url, sessionIds);
    await runPool(1000, CONCURRENCY, startSession);
    const startsMs = await runPool(SESSION_STARTS, CONCURRENCY, startSession);
    // One session per client for the fan-out below; then the gateway stops so the floor runs alone.
    await runPool(Math.max(0, Math.max(...SIZES) - sessionIds.length), CONCURRENCY, startSession);
    await stopProcess(gateway.child);
    const sessionFloor = await startFloor({ FLOOR_NATS_NAMESPACE: ns });
    children.push(sessionFloor.floor);
    const floorIds: string[] = [];
    const floorBase = `http://127.0.0.1:${sessionFloor.port}`;
    await runPool(1000, CONCURRENCY, () => startSessionAt(floorBase, floorIds));
    const floorMs = await runPool(SESSION_STARTS, CONCURRENCY, () => startSessionAt(floorBase, floorIds));
    await stopProcess(sessionFloor.floor);
    const startsPerSecond = (SESSION_STARTS / startsMs) * 1000;
    const floorPerSecond = (SESSION_STARTS / floorMs) * 1000;
    console.log(
      `session starts: ${startsPerSecond.toFixed(0)}/s over HTTP (${SESSION_STARTS} at concurrency ${CONCURRENCY}); ` +
        `floor (bare node:http, seam read + KV create): ${floorPerSecond.toFixed(0)}/s; ratio ${(startsPerSecond / floorPerSecond).toFixed(2)}`,
    );

    const sample = history.at(-1)!;
    console.log(
      "\nclients | gateway p50 / p99 ms | floor p50 / p99 ms | ratio p50 / p99 | RSS/client gateway / floor KB, at connect | ratio | settled | ratio",
    );
    /** RSS growth (KB) with all clients connected, per size, for the marginal cost per client between sizes. */
    const growth: { size: number; gateway: number; floor: number }[] = [];
    for (const size of SIZES) {
      // Both servers hold their clients at once and their rounds alternate, so both see the same machine.
      const { floor: floorProcess, port } = await startFloor();
      children.push(floorProcess);
      const floorSide: Side = {
        ...(await connected(floorProcess.pid!, Array.from({ length: size }, () => `http://127.0.0.1:${port}/`), "127.0.0.2")),
        emit: (round) => {
          const id = `floor${size}-${round}`;
          const event = `event: bar\nid: ${id}\ndata: ${JSON.stringify(sample)}\n\n`;
          return { id, send: async () => (await ask<{ t0: number }>(floorProcess, { type: "broadcast", event }, "sent")).t0 };
        },
        close: async () => {
          floorProcess.send({ type: "stop" });
          await new Promise((resolve) => floorProcess.once("exit", resolve));
        },
      };
      gateway = await startGatewayProcess(env);
      const gatewayProcess = gateway.child;
      children.push(gatewayProcess);
      const gatewayUrls = sessionIds.slice(0, size).map((id) => `${gateway.url}/stream/gap?session_id=${id}`);
      const gatewaySide: Side = {
        ...(await connected(gatewayProcess.pid!, gatewayUrls, "127.0.0.3")),
        emit: () => {
          const bar: ClosedBar = { ...sample, ts: nextTs };
          nextTs += BAR_MS;
          return {
            id: String(bar.ts),
            send: async () => {
              const t0 = now();
              await js.publish(names.subjects.bars(SYMBOL), JSON.stringify(bar), { msgID: barMsgId(SYMBOL, bar.ts) });
              return t0;
            },
          };
        },
        close: () => stopProcess(gatewayProcess),
      };
      const latency = new Map<Side, { p50s: number[]; p99s: number[] }>([
        [floorSide, { p50s: [], p99s: [] }],
        [gatewaySide, { p50s: [], p99s: [] }],
      ]);
      // Round 0 of each is a warm-up (JIT, first GC) and not counted.
      for (let round = 0; round <= ROUNDS; round++) {
        for (const side of [floorSide, gatewaySide]) {
          const { id, send } = side.emit(round);
          const latencies = await roundLatencies(side.clients, id, send);
          if (round > 0) {
            latency.get(side)!.p50s.push(quantile(latencies, 0.5));
            latency.get(side)!.p99s.push(quantile(latencies, 0.99));
          }
          await new Promise((resolve) => setTimeout(resolve, 300));
        }
      }
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      const figures = (side: Side) => ({
        p50: median(latency.get(side)!.p50s),
        p99: median(latency.get(side)!.p99s),
        rssPerClientKb: (side.rssAfterKb - side.rssBeforeKb) / size,
        settledRssPerClientKb: (rssKb(side.pid) - side.rssBeforeKb) / size,
      });
      const g = figures(gatewaySide);
      const floor = figures(floorSide);
      growth.push({ size, gateway: gatewaySide.rssAfterKb - gatewaySide.rssBeforeKb, floor: floorSide.rssAfterKb - floorSide.rssBeforeKb });
      for (const side of [floorSide, gatewaySide]) {
        await ask(side.clients, { type: "close" }, "closed");
        await side.close();
      }
      console.log(
        `${String(size).padStart(7)} | ${g.p50.toFixed(1).padStart(8)} / ${g.p99.toFixed(1).padStart(6)} | ` +
          `${floor.p50.toFixed(1).padStart(8)} / ${floor.p99.toFixed(1).padStart(6)} | ` +
          `${(g.p50 / floor.p50).toFixed(2).padStart(6)} / ${(g.p99 / floor.p99).toFixed(2).padStart(5)} | ` +
          `${g.rssPerClientKb.toFixed(1).padStart(10)} / ${floor.rssPerClientKb.toFixed(1).padStart(5)} | ${(g.rssPerClientKb / floor.rssPerClientKb).toFixed(2)} | ` +
          `${g.settledRssPerClientKb.toFixed(1).padStart(5)} / ${floor.settledRssPerClientKb.toFixed(1).padStart(5)} | ${(g.settledRssPerClientKb / floor.settledRssPerClientKb).toFixed(2)}`,
      );
    }
    // What one more client costs, without what connecting any number of them costs once (the young generation
    // growing to its maximum under the burst of requests, buffers): the slope between the smallest and largest size.
    const [small, large] = [growth[0]!, growth.at(-1)!];
    const slope = (key: "gateway" | "floor") => (large[key] - small[key]) / (large.size - small.size);
    console.log(
      `marginal RSS per client (${small.size} → ${large.size} clients): gateway ${slope("gateway").toFixed(1)} KB, ` +
        `floor ${slope("floor").toFixed(1)} KB, ratio ${(slope("gateway") / slope("floor")).toFixed(2)}`,
    );
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
    await store.close();
    await deleteNamespaceStreams(nc, ns);
    await dropTestSchema(sql, ns);
    await sql.end();
    await nc.close();
  }
}

await main();
