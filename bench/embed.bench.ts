/**
 * The embedder on a day's backlog: 24 h of bars (5,760 per symbol, two symbols) waiting in the stream, a fresh
 * embedder consumer and an empty embedded (SQLite) store, timed until every embedding is written and every bar
 * acknowledged. The floor, measured in the same run: `featurize` alone over the same bars in memory (the same
 * windows, no JetStream, no store). Three interleaved rounds each; medians of embeddings per second and the ratio
 * embedder / floor.
 *
 * `npm run bench -- embed`
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { BAR_MS, DEFAULT_EMBED_EVERY_BARS, DEFAULT_EMBED_WINDOW_BARS, embeddingWindow, isEmbeddingBar, natsNames, type ClosedBar } from "@gapfill/contracts";
import { createLogger, createMetricsRegistry, openEmbeddedStore, type Registry } from "@gapfill/kit";
import {
  connectTestNats,
  deleteNamespaceStreams,
  median,
  provisionTestTopology,
  publishBars,
  TEST_SERIES_START,
  testBars,
  uniqueNamespace,
  waitFor,
} from "@gapfill/testkit";
import { EMBEDDER_DURABLE, featurize, startEmbedder } from "../services/embedder/src/index.ts";

const SYMBOLS = ["BTCUSDT", "ETHUSDT"];
const BARS_PER_SYMBOL = 5760;
const ROUNDS = 3;
const EVERY = DEFAULT_EMBED_EVERY_BARS;
const WINDOW = DEFAULT_EMBED_WINDOW_BARS;
const log = createLogger({ service: "bench", level: "silent" });
const series = SYMBOLS.map((symbol, i) => testBars(symbol, TEST_SERIES_START, BARS_PER_SYMBOL, i + 1));
const targets = series.flatMap((bars) => bars.filter((bar) => isEmbeddingBar(bar.ts, EVERY) && embeddingWindow(bars, bar.ts, WINDOW)));

/** Embeddings per second of featurize over the same windows, from series already in memory. */
function floorRate(): number {
  const started = performance.now();
  let written = 0;
  for (const bars of series) {
    for (const bar of bars) {
      if (!isEmbeddingBar(bar.ts, EVERY)) continue;
      const window = embeddingWindow(bars, bar.ts, WINDOW);
      if (window && featurize(window).length > 0) written++;
    }
  }
  if (written !== targets.length) throw new Error(`featurized ${written} windows, expected ${targets.length}`);
  return written / ((performance.now() - started) / 1000);
}

const written = async (registry: Registry) =>
  (await registry.getSingleMetric("embedder_embeddings_written_total")!.get()).values.reduce((sum, v) => sum + v.value, 0);

/** Embeddings per second of an embedder working through the whole backlog into an empty embedded store. */
async function embedderRate(ns: string, dirs: string[]): Promise<number> {
  const nc = await connectTestNats();
  const jsm = await jetstreamManager(nc);
  const stream = natsNames(ns).streams.bars;
  await jsm.consumers.delete(stream, EMBEDDER_DURABLE).catch(() => false);
  const dir = await mkdtemp(join(tmpdir(), "gapfill-bench-embed-"));
  dirs.push(dir);
  const store = await openEmbeddedStore({ dataDir: dir, log });
  const registry = createMetricsRegistry("embedder");
  const started = performance.now();
  const embedder = await startEmbedder({
    config: { NATS_NAMESPACE: ns, EMBED_EVERY_BARS: EVERY, EMBED_WINDOW_BARS: WINDOW, EMBEDDER_ACK_WAIT_MS: 30_000 },
    nc,
    store,
    log,
    registry,
  });
  // Counted from the embedder's own metric: polling the consumer would load the server being measured.
  await waitFor(async () => (await written(registry)) >= targets.length, { timeoutMs: 300_000, intervalMs: 10, what: "the backlog embedded" });
  const seconds = (performance.now() - started) / 1000;
  // The acknowledgements of the last batch follow its commit.
  await waitFor(
    async () => {
      const info = await jsm.consumers.info(stream, EMBEDDER_DURABLE);
      return info.num_pending + info.num_ack_pending === 0;
    },
    { timeoutMs: 10_000, intervalMs: 100, what: "every bar acknowledged" },
  );
  await embedder.stop();
  let stored = 0;
  for await (const _row of store.exportEmbeddings({ fromTs: 0, toTs: TEST_SERIES_START + BARS_PER_SYMBOL * BAR_MS })) stored++;
  if (stored !== targets.length) throw new Error(`stored ${stored} embeddings, expected ${targets.length}`);
  await store.close();
  await nc.close();
  return targets.length / seconds;
}

const nc = await connectTestNats();
const ns = uniqueNamespace("tbench");
const dirs: string[] = [];
const lines: string[] = [];
try {
  await provisionTestTopology(nc, ns, { barsMaxAgeHours: 24 * 365 * 5 });
  const backlog: ClosedBar[] = series.flat().sort((a, b) => a.ts - b.ts);
  await publishBars(nc, ns, backlog, 512);
  const embedder: number[] = [];
  const floor: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    floor.push(floorRate());
    embedder.push(await embedderRate(ns, dirs));
  }
  const e = median(embedder);
  const f = median(floor);
  lines.push(
    `backlog: ${BARS_PER_SYMBOL.toLocaleString("en")} bars x ${SYMBOLS.length} symbols (24 h), ${targets.length.toLocaleString("en")} embeddings ` +
      `(every ${EVERY} bars, window ${WINDOW}), embedded store, ${ROUNDS} rounds (median)`,
  );
  lines.push(`${"embedder embeddings/s".padEnd(28)}${e.toFixed(0).padStart(10)}`);
  lines.push(`${"floor: featurize alone /s".padEnd(28)}${f.toFixed(0).padStart(10)}`);
  lines.push(`${"embedder / floor".padEnd(28)}${(e / f).toFixed(2).padStart(10)}`);
  lines.push(`a day of embeddings for ${SYMBOLS.length} symbols takes ${(targets.length / e).toFixed(1)} s end to end`);
} finally {
  await deleteNamespaceStreams(nc, ns);
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  await nc.close();
}
console.log(lines.join("\n"));
