/**
 * Where a gateway's memory per SSE client goes: a gateway in this process (buildApp, real NATS and Postgres), heap
 * snapshots before and after CLIENTS live gap streams (clients in a child process), and the difference per client
 * by constructor (V8 self sizes), largest first. Not a benchmark with a floor: a tool for finding what to trim.
 *
 * `node --expose-gc --import tsx bench/gateway-sse-heap.ts [clients]`
 */
import { fork, type ChildProcess } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeHeapSnapshot } from "node:v8";
import { jetstream } from "@nats-io/jetstream";
import { BAR_MS, barMsgId, gatewayConfigSchema, lastClosedBarTs, natsNames } from "@gapfill/contracts";
import { createLogger, loadConfig, openPostgresStore, TYPESCRIPT_NODE_ARGS } from "@gapfill/kit";
import {
  connectTestNats,
  connectTestPostgres,
  deleteNamespaceStreams,
  dropTestSchema,
  provisionTestTopology,
  TEST_DATABASE_URL,
  TEST_NATS_URL,
  testBars,
  uniqueNamespace,
} from "@gapfill/testkit";
import { buildApp, signLocalToken } from "../services/gateway/src/index.ts";

const CLIENTS = Number(process.argv[2] ?? 2000);
const SECRET = "bench-local-secret-0123456789abcdef0123456789";
const here = dirname(fileURLToPath(import.meta.url));

/** Self size and count per "type:name" of a heap snapshot. */
function heapByConstructor(): Map<string, { bytes: number; count: number }> {
  (globalThis as { gc?: () => void }).gc?.();
  const file = writeHeapSnapshot(join(tmpdir(), `gapfill-heap-${process.pid}-${Date.now()}.heapsnapshot`));
  const snapshot = JSON.parse(readFileSync(file, "utf8")) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  if (process.env.KEEP_HEAP) console.log(`snapshot kept: ${file}`);
  else rmSync(file);
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const [typeAt, nameAt, sizeAt] = ["type", "name", "self_size"].map((f) => fields.indexOf(f));
  const out = new Map<string, { bytes: number; count: number }>();
  for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
    const type = types[snapshot.nodes[i + typeAt!]!]!;
    const name = type === "object" || type === "closure" || type === "native" ? snapshot.strings[snapshot.nodes[i + nameAt!]!]! : `(${type})`;
    const key = `${type}:${name}`;
    const entry = out.get(key) ?? { bytes: 0, count: 0 };
    entry.bytes += snapshot.nodes[i + sizeAt!]!;
    entry.count++;
    out.set(key, entry);
  }
  return out;
}

function ask<T>(child: ChildProcess, command: object | null, type: string): Promise<T> {
  return new Promise((resolve) => {
    const onMessage = (message: { type: string }) => {
      if (message.type !== type) return;
      child.off("message", onMessage);
      resolve(message as T);
    };
    child.on("message", onMessage);
    if (command) child.send(command);
  });
}

const ns = uniqueNamespace();
const log = createLogger({ service: "heap", level: "silent" });
const nc = await connectTestNats();
const sql = connectTestPostgres();
await provisionTestTopology(nc, ns, { sessionTtlSeconds: 3600 });
const store = await openPostgresStore({ url: TEST_DATABASE_URL, prepare: true, schema: ns, log });
const names = natsNames(ns);
const history = testBars("BTCUSDT", lastClosedBarTs(Date.now()) - 400 * BAR_MS, 200, 11);
await Promise.all(history.map((bar) => jetstream(nc).publish(names.subjects.bars("BTCUSDT"), JSON.stringify(bar), { msgID: barMsgId("BTCUSDT", bar.ts) })));
await store.upsertBars(history);
const config = loadConfig(gatewayConfigSchema, "gateway", {
  NATS_URL: TEST_NATS_URL,
  NATS_NAMESPACE: ns,
  DATABASE_URL: TEST_DATABASE_URL,
  DATABASE_SCHEMA: ns,
  LOCAL_JWT_SECRET: SECRET,
  SESSION_START_PER_MINUTE: "1000000",
  GAP_STREAM_PER_MINUTE: "1000000",
  // Every client comes from 127.0.0.1 here: no per-address cap, and room for all of them.
  MAX_CONNECTIONS: "1000000",
  MAX_CONNECTIONS_PER_IP: "1000000",
  LOG_LEVEL: "silent",
});
const app = await buildApp({ config, log, nc, store });
await app.listen({ port: 0, host: "127.0.0.1" });
const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
const clients = fork(join(here, "gateway-sse-clients.ts"), [], { execArgv: [...TYPESCRIPT_NODE_ARGS], stdio: "inherit" });
try {
  await ask(clients, null, "started");
  const { token } = await signLocalToken(new TextEncoder().encode(SECRET), { sub: "heap", ttlSeconds: 3600, nowMs: Date.now() });
  const urls: string[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    const response = await fetch(`${base}/session/start`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
    urls.push(`${base}/stream/gap?session_id=${((await response.json()) as { session_id: string }).session_id}`);
  }
  const before = heapByConstructor();
  const memoryBefore = process.memoryUsage();
  await ask(clients, { type: "connect", urls, localAddress: "127.0.0.4" }, "connected");
  const connected = process.memoryUsage();
  const perClient = (key: keyof NodeJS.MemoryUsage) => `${((connected[key] - memoryBefore[key]) / CLIENTS / 1024).toFixed(1)}`;
  console.log(
    `KB per client right after connecting (garbage included): rss ${perClient("rss")}, V8 heap used ${perClient("heapUsed")}, ` +
      `external ${perClient("external")}`,
  );
  const after = heapByConstructor();
  const rows = [...after]
    .map(([key, a]) => ({ key, bytes: a.bytes - (before.get(key)?.bytes ?? 0), count: a.count - (before.get(key)?.count ?? 0) }))
    .filter((row) => row.bytes > 0)
    .sort((x, y) => y.bytes - x.bytes);
  const total = rows.reduce((sum, row) => sum + row.bytes, 0);
  console.log(`heap growth with ${CLIENTS} live gap streams: ${(total / CLIENTS).toFixed(0)} B per client (V8 self sizes)`);
  console.log("B/client  objects/client  type:constructor");
  for (const row of rows.slice(0, 30)) {
    console.log(`${(row.bytes / CLIENTS).toFixed(0).padStart(8)}  ${(row.count / CLIENTS).toFixed(2).padStart(14)}  ${row.key}`);
  }
} finally {
  await ask(clients, { type: "close" }, "closed");
  await app.close();
  await store.close();
  await deleteNamespaceStreams(nc, ns);
  await dropTestSchema(sql, ns);
  await sql.end();
  await nc.close();
}
