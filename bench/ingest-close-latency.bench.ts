/**
 * Ingestor bar-close latency in real time: from a bucket's end (ts + 15 s on the simulator's clock) to the PubAck
 * of its bar, p50/p99 over every live bar of 8 symbols (real NATS JetStream, the simulator at speed 1 over HTTP/WS,
 * BAR_CLOSE_GRACE_MS = 1000).
 *
 * Floor, measured in the same run: the earliest a bar can be closed from the data plus one publish. An independent
 * WebSocket client of the same simulator records when the first trade at or past each bucket's end arrives; when
 * none arrives within the grace period, the bucket is quiet and the floor is the grace period itself (no ingestor
 * may close a quiet bar before deciding it is quiet). Added to it: the median PubAck round trip of a plain
 * JetStream publish of a bar, measured alongside.
 *
 * `npm run bench -- ingest-close-latency` (BENCH_SECONDS, default 120, plus ~10 s of set-up).
 */
import { jetstream } from "@nats-io/jetstream";
import WebSocket from "ws";
import { BAR_MS, flatBar, ingestorConfigSchema, natsNames } from "@gapfill/contracts";
import { createLogger, loadConfig } from "@gapfill/kit";
import {
  connectTestNats,
  deleteNamespaceStreams,
  provisionTestTopology,
  quantile,
  TEST_NATS_URL,
  uniqueNamespace,
  waitFor,
} from "@gapfill/testkit";
import { startSim } from "../services/binance-sim/src/index.ts";
import { startIngestor } from "../services/ingestor/src/index.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 120);
const GRACE_MS = 1000;
const SYMBOLS = ["BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT", "LTCUSDT"];

const sim = await startSim({ historyHours: 0.2, speed: 1, symbols: SYMBOLS });
const nc = await connectTestNats();
const ns = uniqueNamespace("bench");
await provisionTestTopology(nc, ns);

// The information floor: when the first trade at or past each bucket end reaches a plain WebSocket client.
const firstTradePastEnd = new Map<string, number>();
const watchedEnd = new Map<string, number>();
const watcher = new WebSocket(`${sim.wsUrl}/stream?streams=${SYMBOLS.map((s) => `${s.toLowerCase()}@aggTrade`).join("/")}`);
watcher.on("message", (raw: WebSocket.RawData) => {
  const now = sim.clock();
  const { s: symbol, T: time } = (JSON.parse(raw.toString()) as { data: { s: string; T: number } }).data;
  const end = time - (time % BAR_MS);
  if ((watchedEnd.get(symbol) ?? 0) < end) {
    watchedEnd.set(symbol, end);
    firstTradePastEnd.set(`${symbol}:${end}`, now);
  }
});

const startedAt = sim.clock();
const closes: { symbol: string; end: number; latencyMs: number }[] = [];
const config = loadConfig(ingestorConfigSchema, "ingestor", {
  NATS_URL: TEST_NATS_URL,
  NATS_NAMESPACE: ns,
  BINANCE_SYMBOL: SYMBOLS.join(","),
  BINANCE_REST_URL: sim.restUrl,
  BINANCE_WS_URL: sim.wsUrl,
  INGEST_BACKFILL_HOURS: "0.01",
  BAR_CLOSE_GRACE_MS: String(GRACE_MS),
});
const ingestor = await startIngestor({
  config,
  nc,
  log: createLogger({ service: "bench", level: "silent" }),
  clock: sim.clock,
  onBarPublished: (bar) => {
    const end = bar.ts + BAR_MS;
    // Live bars only: their bucket ended after the ingestor was up and following the stream.
    if (end > startedAt + 20_000) closes.push({ symbol: bar.symbol, end, latencyMs: sim.clock() - end });
  },
});
await ingestor.ready;
console.log(`measuring ${SECONDS} s of live bars for ${SYMBOLS.length} symbols…`);
await waitFor(() => sim.clock() - startedAt > SECONDS * 1000, { timeoutMs: SECONDS * 1000 + 60_000, intervalMs: 500, what: "the run" });
await ingestor.stop();
watcher.close();

// Plain JetStream publish round trips of a bar, for the floor.
const js = jetstream(nc);
const rtts: number[] = [];
const subject = natsNames(ns).subjects.bars("FLOOR");
for (let i = 0; i < 200; i++) {
  const sent = performance.now();
  await js.publish(subject, JSON.stringify(flatBar("FLOOR", i * BAR_MS, 1)), { msgID: `FLOOR:${i}` });
  rtts.push(performance.now() - sent);
}
const publishMs = quantile(rtts, 0.5);
await deleteNamespaceStreams(nc, ns);
await nc.close();
await sim.stop();

const ours = closes.map((c) => c.latencyMs);
const floors = closes.map((c) => {
  const arrival = firstTradePastEnd.get(`${c.symbol}:${c.end}`);
  const dataMs = arrival === undefined || arrival - c.end > GRACE_MS ? GRACE_MS : arrival - c.end;
  return dataMs + publishMs;
});
const quiet = closes.filter((c) => {
  const arrival = firstTradePastEnd.get(`${c.symbol}:${c.end}`);
  return arrival === undefined || arrival - c.end > GRACE_MS;
}).length;
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
console.log(`bars: ${closes.length} live closes (${quiet} quiet, closed after the grace period); publish round trip median ${fmt(publishMs)}`);
console.log(`floor (first trade past the end, or the grace period, + one publish): p50 ${fmt(quantile(floors, 0.5))}, p99 ${fmt(quantile(floors, 0.99))}`);
console.log(
  `bucket end → PubAck: p50 ${fmt(quantile(ours, 0.5))}, p99 ${fmt(quantile(ours, 0.99))}, ` +
    `ratio floor/ours p50 ${(quantile(floors, 0.5) / quantile(ours, 0.5)).toFixed(2)}, p99 ${(quantile(floors, 0.99) / quantile(ours, 0.99)).toFixed(2)}`,
);
