/**
 * Recorder throughput on a backlog (issue 5): 40,000 bars waiting in the stream, a recorder started on an empty
 * table with the default batch settings, timed until every bar is written and acknowledged. The floor, measured in
 * the same run on the same store kind: upserting the same bars straight into the store in batches of the same
 * size, with no JetStream in between. Three rounds each; medians and the ratio recorder / floor.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { natsNames, type ClosedBar } from "@gapfill/contracts";
import { type BarStore, createLogger, createMetricsRegistry, openEmbeddedStore, openPostgresStore } from "@gapfill/kit";
import {
  connectTestNats,
  connectTestPostgres,
  deleteNamespaceStreams,
  dropTestSchema,
  provisionTestTopology,
  publishBars,
  quantile,
  TEST_DATABASE_URL,
  TEST_SERIES_START,
  testBars,
  uniqueNamespace,
  waitFor,
} from "@gapfill/testkit";
import { RECORDER_DURABLE, startRecorder } from "../services/recorder/src/index.ts";

const PER_SYMBOL = 20_000;
const BATCH = 1000;
const ROUNDS = 3;
const log = createLogger({ service: "bench", level: "silent" });
const bars: ClosedBar[] = [...testBars("BTCUSDT", TEST_SERIES_START, PER_SYMBOL, 1), ...testBars("ETHUSDT", TEST_SERIES_START, PER_SYMBOL, 2)];

const nc = await connectTestNats();
const admin = connectTestPostgres();
const ns = uniqueNamespace("tbench");
const schemas: string[] = [];
const dirs: string[] = [];

async function freshStore(kind: "postgres" | "embedded"): Promise<BarStore> {
  if (kind === "embedded") {
    const dir = await mkdtemp(join(tmpdir(), "gapfill-bench-recorder-"));
    dirs.push(dir);
    return openEmbeddedStore({ dataDir: dir, log });
  }
  const schema = uniqueNamespace("tbench");
  schemas.push(schema);
  return openPostgresStore({ url: TEST_DATABASE_URL, prepare: true, schema, log });
}

/** Bars per second of plain batched upserts into an empty store. */
async function floorRate(kind: "postgres" | "embedded"): Promise<number> {
  const store = await freshStore(kind);
  const start = performance.now();
  for (let i = 0; i < bars.length; i += BATCH) await store.upsertBars(bars.slice(i, i + BATCH));
  const seconds = (performance.now() - start) / 1000;
  await store.close();
  return bars.length / seconds;
}

/** Bars per second of a recorder draining the whole backlog into an empty store. */
async function recorderRate(kind: "postgres" | "embedded"): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const stream = natsNames(ns).streams.bars;
  await jsm.consumers.delete(stream, RECORDER_DURABLE).catch(() => false);
  const store = await freshStore(kind);
  const start = performance.now();
  const recorder = await startRecorder({
    config: { NATS_NAMESPACE: ns, BINANCE_SYMBOL: ["BTCUSDT", "ETHUSDT"], RECORDER_BATCH_SIZE: BATCH, RECORDER_BATCH_MS: 250, RECORDER_ACK_WAIT_MS: 30_000 },
    nc,
    store,
    log,
    registry: createMetricsRegistry("recorder"),
  });
  await waitFor(
    async () => {
      const info = await jsm.consumers.info(stream, RECORDER_DURABLE);
      return info.num_pending === 0 && info.num_ack_pending === 0 && info.delivered.stream_seq >= bars.length;
    },
    { timeoutMs: 300_000, intervalMs: 10, what: "the backlog recorded" },
  );
  const seconds = (performance.now() - start) / 1000;
  await recorder.stop();
  const stored = (await store.pageNewestFirst("BTCUSDT", { limit: PER_SYMBOL + 1 })).length + (await store.pageNewestFirst("ETHUSDT", { limit: PER_SYMBOL + 1 })).length;
  if (stored !== bars.length) throw new Error(`recorded ${stored} rows, expected ${bars.length}`);
  await store.close();
  return bars.length / seconds;
}

const lines: string[] = [];
try {
  await provisionTestTopology(nc, ns, { barsMaxAgeHours: 24 });
  await publishBars(nc, ns, bars, 512);
  lines.push(`backlog of ${bars.length.toLocaleString("en")} bars, batches of ${BATCH}, ${ROUNDS} rounds (median)`);
  lines.push(`${"store".padEnd(10)}${"recorder bars/s".padStart(17)}${"floor bars/s".padStart(15)}${"recorder / floor".padStart(18)}`);
  for (const kind of ["postgres", "embedded"] as const) {
    const recorder: number[] = [];
    const floor: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      floor.push(await floorRate(kind));
      recorder.push(await recorderRate(kind));
    }
    const r = quantile(recorder.sort((a, b) => a - b), 0.5);
    const f = quantile(floor.sort((a, b) => a - b), 0.5);
    lines.push(`${kind.padEnd(10)}${r.toFixed(0).padStart(17)}${f.toFixed(0).padStart(15)}${(r / f).toFixed(2).padStart(18)}`);
  }
} finally {
  await deleteNamespaceStreams(nc, ns);
  for (const schema of schemas) await dropTestSchema(admin, schema);
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  await admin.end();
  await nc.close();
}
console.log(lines.join("\n"));
