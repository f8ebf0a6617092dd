/**
 * Ingestor 24 h backfill: from `startIngestor()` on an empty stream until the last closed bar of the day is in
 * JetStream (real NATS, the simulator over HTTP/WS at real speed), with the REST requests the simulator counted.
 * Floor, measured in the same run: the bare I/O the design cannot avoid — fetching the same 1 s kline pages
 * (1,000 s each) one after another with plain `fetch` + `JSON.parse`, then publishing the same number of bars to
 * JetStream one after another, each waiting for its PubAck.
 *
 * `npm run bench -- ingest-backfill` (about a minute; 2 noisy cores: medians of 3 rounds).
 */
import { jetstream } from "@nats-io/jetstream";
import { BAR_MS, barOpenTime, flatBar, ingestorConfigSchema, natsNames } from "@gapfill/contracts";
import { createLogger, loadConfig } from "@gapfill/kit";
import {
  connectTestNats,
  deleteNamespaceStreams,
  median,
  provisionTestTopology,
  TEST_NATS_URL,
  uniqueNamespace,
  waitFor,
} from "@gapfill/testkit";
import { startSim } from "../services/binance-sim/src/index.ts";
import { startIngestor } from "../services/ingestor/src/index.ts";

const ROUNDS = 3;
const HOURS = 24;

const sim = await startSim({ historyHours: HOURS + 0.5, speed: 1 });
const nc = await connectTestNats();
const log = createLogger({ service: "bench", level: "silent" });

async function floorSeconds(): Promise<{ seconds: number; pages: number; bars: number }> {
  const ns = uniqueNamespace("bench");
  await provisionTestTopology(nc, ns);
  const end = barOpenTime(sim.clock() - 2000);
  const start = barOpenTime(sim.clock() - HOURS * 3_600_000);
  const started = performance.now();
  let pages = 0;
  for (let from = start; from < end; from += 1_000_000, pages++) {
    const url = `${sim.restUrl}/api/v3/klines?symbol=BTCUSDT&interval=1s&startTime=${from}&endTime=${Math.min(from + 1_000_000, end) - 1}&limit=1000`;
    JSON.parse(await (await fetch(url)).text());
  }
  const js = jetstream(nc);
  const subject = natsNames(ns).subjects.bars("BTCUSDT");
  let bars = 0;
  for (let ts = start; ts < end; ts += BAR_MS, bars++) {
    await js.publish(subject, JSON.stringify(flatBar("BTCUSDT", ts, 67_000.12)), { msgID: `BTCUSDT:${ts}` });
  }
  const seconds = (performance.now() - started) / 1000;
  await deleteNamespaceStreams(nc, ns);
  return { seconds, pages, bars };
}

async function backfillSeconds(): Promise<{ seconds: number; requests: number; served429: number; bars: number }> {
  const ns = uniqueNamespace("bench");
  await provisionTestTopology(nc, ns);
  const config = loadConfig(ingestorConfigSchema, "ingestor", {
    NATS_URL: TEST_NATS_URL,
    NATS_NAMESPACE: ns,
    BINANCE_REST_URL: sim.restUrl,
    BINANCE_WS_URL: sim.wsUrl,
    INGEST_BACKFILL_HOURS: String(HOURS),
  });
  sim.resetStats();
  const started = performance.now();
  const ingestor = await startIngestor({ config, nc, log, clock: sim.clock });
  const target = barOpenTime(sim.clock()) - BAR_MS;
  await waitFor(() => (ingestor.lastPublishedTs("BTCUSDT") ?? 0) >= target, { timeoutMs: 300_000, intervalMs: 5, what: "the backfill" });
  const seconds = (performance.now() - started) / 1000;
  const stats = sim.stats();
  await ingestor.stop();
  const bars = (target - barOpenTime(sim.clock() - HOURS * 3_600_000)) / BAR_MS;
  await deleteNamespaceStreams(nc, ns);
  return { seconds, requests: stats.requestsTotal, served429: stats.served429, bars };
}

const floors: Awaited<ReturnType<typeof floorSeconds>>[] = [];
const runs: Awaited<ReturnType<typeof backfillSeconds>>[] = [];
for (let round = 0; round < ROUNDS; round++) {
  floors.push(await floorSeconds());
  runs.push(await backfillSeconds());
}
await nc.close();
await sim.stop();

const floor = median(floors.map((f) => f.seconds));
const ours = median(runs.map((r) => r.seconds));
console.log(
  `floor (fetch ${floors[0]!.pages} kline pages + publish ${floors[0]!.bars} bars, sequentially): median ${floor.toFixed(2)} s`,
);
console.log(
  `24 h backfill to the last closed bar: median ${ours.toFixed(2)} s (rounds ${runs.map((r) => r.seconds.toFixed(2)).join(", ")} s), ` +
    `REST requests ${runs.map((r) => r.requests).join("/")}, 429s ${runs.map((r) => r.served429).join("/")}, ` +
    `ratio floor/backfill ${(floor / ours).toFixed(2)}`,
);
