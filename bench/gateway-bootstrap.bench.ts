/**
 * Bootstrap pages at scale, one gateway process (its real entry point, Postgres store) and this process as the client
 * (node:http, keep-alive, bodies read as bytes, not decoded):
 * - a cached 5,000-bar page (the newest, and an older one): HTTP p50/p99 of sequential requests and the server's own
 *   time (its Server-Timing header), identity and br, against the floor of a bare node:http process sending the same
 *   bytes with the same headers (requests to the two alternate, so both see the same machine);
 * - the same page uncached (BOOTSTRAP_CACHE_MB=0), and the store read alone (`pageNewestFirst(5001)` in this process);
 * - store reads (the gateway's gateway_store_reads_total) caused by 1,000 concurrent requests for one uncached page,
 *   and by 1,000 requests for the newest page across each of three bar closes (a bar published to JetStream, written
 *   by a recorder running in this process, which then hints the gateway);
 * - pages/s at concurrency 16, cached (br) and uncached (every request another page);
 * - bytes of rows against format=columns.
 *
 * `npm run bench -- gateway-bootstrap`
 */
import { Agent, request } from "node:http";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { BAR_MS, barMsgId, lastClosedBarTs, natsNames, type BootstrapPage } from "@gapfill/contracts";
import { createLogger, createMetricsRegistry, openPostgresStore } from "@gapfill/kit";
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
  waitFor,
} from "@gapfill/testkit";
import { RECORDER_DURABLE, startRecorder } from "../services/recorder/src/index.ts";
import { signLocalToken } from "../services/gateway/src/index.ts";
import { ask, now, runPool, startFloor, startGatewayProcess, stopProcess } from "./gateway-support.ts";

const SYMBOL = "BTCUSDT";
/** In the table; the newest STREAMED of them also in JetStream (the gateway's window is a day: 5,760 bars). */
const BARS = 50_000;
const STREAMED = 6_000;
const PAGE = 5000;
const WARMUP = 20;
const REQUESTS = 200;
const BURST = 1000;
const SECRET = "bench-local-secret-0123456789abcdef0123456789";

interface Fetched {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });
function get(url: string, headers: Record<string, string> = {}): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

/** HTTP ms of one request, and the server's own ms when it reports one (Server-Timing). */
async function once(url: string, headers: Record<string, string>): Promise<{ http: number; server: number | null; response: Fetched }> {
  const started = now();
  const response = await get(url, headers);
  const http = now() - started;
  if (response.status !== 200) throw new Error(`${url} answered ${response.status}`);
  const timing = /dur=([\d.]+)/.exec(String(response.headers["server-timing"] ?? ""));
  return { http, server: timing ? Number(timing[1]) : null, response };
}

/** Sequential requests after a warm-up; with `against`, its requests alternate with these, so both see one machine. */
async function timed(
  url: string,
  headers: Record<string, string>,
  against?: string,
): Promise<{ http: number[]; server: number[]; floor: number[] }> {
  const http: number[] = [];
  const server: number[] = [];
  const floor: number[] = [];
  for (let i = 0; i < WARMUP + REQUESTS; i++) {
    const measured = await once(url, headers);
    const bare = against ? await once(against, {}) : null;
    if (i < WARMUP) continue;
    http.push(measured.http);
    if (measured.server !== null) server.push(measured.server);
    if (bare) floor.push(bare.http);
  }
  return { http, server, floor };
}

const ms = (values: number[]) => `p50 ${quantile(values, 0.5).toFixed(2)} ms, p99 ${quantile(values, 0.99).toFixed(2)} ms`;

/** The gateway's reads of price_15s so far (pages and seams), from its metrics port. */
async function storeReads(metricsUrl: string): Promise<number> {
  const text = (await get(metricsUrl)).body.toString();
  const counts = [...text.matchAll(/^gateway_store_reads_total\{[^}]*\} (\d+)/gm)];
  // Zero reads would pass any "at most" reading: a count that cannot be read must stop the benchmark instead.
  if (counts.length === 0) throw new Error(`no gateway_store_reads_total in ${metricsUrl}`);
  return counts.reduce((sum, m) => sum + Number(m[1]), 0);
}

const ns = uniqueNamespace();
const log = createLogger({ service: "bench", level: "warn" });
const nc = await connectTestNats();
const sql = connectTestPostgres();
await provisionTestTopology(nc, ns);
const names = natsNames(ns);
const js = jetstream(nc);
const store = await openPostgresStore({ url: TEST_DATABASE_URL, prepare: true, schema: ns, log });
const children: Awaited<ReturnType<typeof startGatewayProcess>>["child"][] = [];
let recorder: Awaited<ReturnType<typeof startRecorder>> | null = null;
const say = (line: string) => console.log(line);
try {
  const series = testBars(SYMBOL, lastClosedBarTs(Date.now()) - (BARS + 10) * BAR_MS, BARS + 3, 5);
  const bars = series.slice(0, BARS);
  for (let i = 0; i < bars.length; i += 5000) await store.upsertBars(bars.slice(i, i + 5000));
  for (let i = BARS - STREAMED; i < BARS; i += 1000) {
    await Promise.all(
      bars.slice(i, i + 1000).map((bar) => js.publish(names.subjects.bars(SYMBOL), JSON.stringify(bar), { msgID: barMsgId(SYMBOL, bar.ts) })),
    );
  }
  const env = {
    NATS_URL: TEST_NATS_URL,
    NATS_NAMESPACE: ns,
    DATABASE_URL: TEST_DATABASE_URL,
    DATABASE_SCHEMA: ns,
    LOCAL_JWT_SECRET: SECRET,
    BOOTSTRAP_PER_MINUTE: "1000000",
    // 1,000 concurrent requests from 127.0.0.1: no per-address cap.
    MAX_CONNECTIONS_PER_IP: "1000000",
    LOG_LEVEL: "error",
  };
  const { token } = await signLocalToken(new TextEncoder().encode(SECRET), { sub: "bench", ttlSeconds: 3600, nowMs: Date.now() });
  const auth = { authorization: `Bearer ${token}` };
  const gateway = await startGatewayProcess(env);
  children.push(gateway.child);
  const newest = `${gateway.url}/bootstrap?limit=${PAGE}`;
  const first = JSON.parse((await get(newest, auth)).body.toString()) as BootstrapPage;
  const older = `${gateway.url}/bootstrap?limit=${PAGE}&cursor=${first.next_cursor}`;

  const storeFloor: number[] = [];
  for (let i = 0; i < 60; i++) {
    const started = now();
    await store.pageNewestFirst(SYMBOL, { limit: PAGE + 1 });
    storeFloor.push(now() - started);
  }
  say(`store read alone: pageNewestFirst(${PAGE + 1}) ${ms(storeFloor)}`);

  // Cached pages against a bare server sending the same bytes.
  const { floor, port: floorPort } = await startFloor();
  children.push(floor);
  say(`\ncached ${PAGE}-bar page | HTTP gateway | HTTP floor | ratio p50 | server time (Server-Timing)`);
  for (const [name, url] of [
    ["newest", newest],
    ["older", older],
  ] as const) {
    for (const coding of ["identity", "br"] as const) {
      const headers = { ...auth, "accept-encoding": coding };
      const { response } = await once(url, headers);
      const keep = ["content-type", "content-encoding", "etag", "cache-control", "vary"].filter((h) => response.headers[h] !== undefined);
      const floorHeaders = Object.fromEntries(keep.map((h) => [h, String(response.headers[h])]));
      await ask(floor, { type: "pages", pages: [{ coding, body: response.body.toString("base64"), headers: floorHeaders }] }, "pages-ready");
      const measured = await timed(url, headers, `http://127.0.0.1:${floorPort}/page/${coding}`);
      const ratio = median(measured.http) / median(measured.floor);
      say(
        `${name} ${coding} (${(response.body.length / 1024).toFixed(0)} KiB) | ${ms(measured.http)} | ${ms(measured.floor)} | ${ratio.toFixed(2)} | ${ms(measured.server)}`,
      );
    }
  }
  // Uncached, for comparison: the same page from a gateway without a cache.
  const uncachedGateway = await startGatewayProcess({ ...env, BOOTSTRAP_CACHE_MB: "0" });
  children.push(uncachedGateway.child);
  for (const coding of ["identity", "br"] as const) {
    const measured = await timed(`${uncachedGateway.url}/bootstrap?limit=${PAGE}`, { ...auth, "accept-encoding": coding });
    say(`uncached newest ${coding} | ${ms(measured.http)} | server time ${ms(measured.server)}`);
  }

  // 1,000 concurrent requests for one page nobody asked for yet.
  const before = await storeReads(gateway.metricsUrl);
  const fresh = `${gateway.url}/bootstrap?limit=${PAGE}&to_ts=${bars[BARS - 1234]!.ts}`;
  const responses = await Promise.all(Array.from({ length: BURST }, () => get(fresh, { ...auth, "accept-encoding": "br" })));
  if (responses.some((r) => r.status !== 200)) throw new Error("a concurrent request failed");
  say(`\n${BURST} concurrent requests for one uncached page: ${(await storeReads(gateway.metricsUrl)) - before} store reads (page and seam)`);

  // 1,000 requests for the newest page across each of three bar closes, a recorder writing the bars.
  recorder = await startRecorder({
    config: { NATS_NAMESPACE: ns, BINANCE_SYMBOL: [SYMBOL], RECORDER_BATCH_SIZE: 1000, RECORDER_BATCH_MS: 250, RECORDER_ACK_WAIT_MS: 30_000 },
    nc,
    store,
    log: createLogger({ service: "bench-recorder", level: "silent" }),
    registry: createMetricsRegistry("recorder"),
  });
  // A new recorder first re-writes the whole stream (its consumer starts at the oldest bar): wait that out.
  const jsm = await jetstreamManager(nc);
  await waitFor(
    async () => {
      const info = await jsm.consumers.info(names.streams.bars, RECORDER_DURABLE);
      return info.num_pending === 0 && info.num_ack_pending === 0;
    },
    { what: "the recorder to catch up", timeoutMs: 60_000 },
  );
  const perBar: number[] = [];
  for (const bar of series.slice(BARS)) {
    await get(newest, auth);
    const readsBefore = await storeReads(gateway.metricsUrl);
    const burst = runPool(BURST, 100, async () => {
      const response = await get(newest, { ...auth, "accept-encoding": "br" });
      if (response.status !== 200) throw new Error(`newest page answered ${response.status}`);
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    await js.publish(names.subjects.bars(SYMBOL), JSON.stringify(bar), { msgID: barMsgId(SYMBOL, bar.ts) });
    await burst;
    await waitFor(async () => (await store.lastBarTs(SYMBOL)) === bar.ts, { what: "the recorder to write the bar", timeoutMs: 10_000 });
    const top = JSON.parse((await get(newest, auth)).body.toString()) as BootstrapPage;
    if (top.bars[0]!.ts !== bar.ts) throw new Error("the newest page does not show the recorded bar");
    perBar.push((await storeReads(gateway.metricsUrl)) - readsBefore);
  }
  say(`${BURST} requests for the newest page across a bar close (3 bars): store reads per bar ${perBar.join(", ")}`);

  // Throughput at concurrency 16.
  const cachedMs = await runPool(3000, 16, async () => void (await get(newest, { ...auth, "accept-encoding": "br" })));
  let k = 0;
  const uncachedMs = await runPool(300, 16, async () => {
    const to = bars[BARS - 2000 - 7 * k++]!.ts;
    const response = await get(`${uncachedGateway.url}/bootstrap?limit=${PAGE}&to_ts=${to}`, { ...auth, "accept-encoding": "br" });
    if (response.status !== 200) throw new Error(`uncached page answered ${response.status}`);
  });
  say(`\npages/s at concurrency 16 (br): cached ${((3000 / cachedMs) * 1000).toFixed(0)}, uncached ${((300 / uncachedMs) * 1000).toFixed(0)}`);

  // Bytes: rows against columns.
  const sizes: string[] = [];
  for (const format of ["rows", "columns"]) {
    const per = await Promise.all(
      (["identity", "gzip", "br"] as const).map(async (coding) => (await get(`${newest}&format=${format}`, { ...auth, "accept-encoding": coding })).body.length),
    );
    sizes.push(`${format}: ${per.map((b, i) => `${["identity", "gzip", "br"][i]} ${(b / 1024).toFixed(0)} KiB`).join(", ")}`);
  }
  say(`\n${PAGE}-bar page bytes — ${sizes.join("; ")}`);
} finally {
  await recorder?.stop();
  for (const child of children) await stopProcess(child);
  agent.destroy();
  await store.close();
  await deleteNamespaceStreams(nc, ns);
  await dropTestSchema(sql, ns);
  await sql.end();
  await nc.close();
}
