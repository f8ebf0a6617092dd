/**
 * Recorder throughput on a backlog (issue 5): 40,000 bars waiting in the stream, a recorder started on an empty
 * table with the default batch settings, timed until every bar is written and acknowledged. The floor, measured in
 * the same run on the same store kind: upserting the same bars straight into the store in batches of the same
 * size, with no JetStream in between. Three rounds each; medians and the ratio recorder / floor. A third row runs
 * the recorder with a store that writes nothing, against the embedded floor: the most any store could give on this
 * machine. The last columns are the CPU time per bar, while
 * the recorder drained, of this process (all its threads) and of the local nats-server (when /proc shows one).
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
import { natsServerCpuSeconds } from "./nats-server-cpu.ts";

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

type Variant = { label: string; kind: "postgres" | "embedded"; writes: boolean };
type RecorderRun = { rate: number; cpuUs: number; natsCpuUs: number | null };

/** A store whose bar upserts do nothing: what the recorder costs without its writes. */
function withoutWrites(store: BarStore): BarStore {
  return {
    kind: store.kind,
    lastBarTs: (symbol) => store.lastBarTs(symbol),
    pageNewestFirst: (symbol, query) => store.pageNewestFirst(symbol, query),
    upsertBars: async () => {},
    ping: () => store.ping(),
    close: () => store.close(),
  };
}

/** Bars per second of a recorder draining the whole backlog into an empty store, and CPU µs a bar. */
async function recorderRate({ kind, writes }: Variant): Promise<RecorderRun> {
  const jsm = await jetstreamManager(nc);
  const stream = natsNames(ns).streams.bars;
  await jsm.consumers.delete(stream, RECORDER_DURABLE).catch(() => false);
  const opened = await freshStore(kind);
  const store = writes ? opened : withoutWrites(opened);
  await store.ping();
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  const natsStart = natsServerCpuSeconds();
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
  const cpu = process.cpuUsage(cpuStart);
  const natsEnd = natsServerCpuSeconds();
  await recorder.stop();
  const stored = (await store.pageNewestFirst("BTCUSDT", { limit: PER_SYMBOL + 1 })).length + (await store.pageNewestFirst("ETHUSDT", { limit: PER_SYMBOL + 1 })).length;
  if (writes && stored !== bars.length) throw new Error(`recorded ${stored} rows, expected ${bars.length}`);
  await store.close();
  const natsCpuUs = natsStart === null || natsEnd === null ? null : ((natsEnd - natsStart) * 1e6) / bars.length;
  return { rate: bars.length / seconds, cpuUs: (cpu.user + cpu.system) / bars.length, natsCpuUs };
}

const variants: Variant[] = [
  { label: "postgres", kind: "postgres", writes: true },
  { label: "embedded", kind: "embedded", writes: true },
  { label: "no writes (ceiling)", kind: "embedded", writes: false },
];

const lines: string[] = [];
try {
  await provisionTestTopology(nc, ns, { barsMaxAgeHours: 24 });
  await publishBars(nc, ns, bars, 512);
  lines.push(`backlog of ${bars.length.toLocaleString("en")} bars, batches of ${BATCH}, ${ROUNDS} rounds (median)`);
  lines.push(
    `${"store".padEnd(22)}${"recorder bars/s".padStart(17)}${"floor bars/s".padStart(15)}${"recorder / floor".padStart(18)}${"CPU µs/bar".padStart(12)}${"NATS CPU µs/bar".padStart(17)}`,
  );
  const median = (values: number[]) => quantile([...values].sort((a, b) => a - b), 0.5);
  for (const variant of variants) {
    const runs: RecorderRun[] = [];
    const floor: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      floor.push(await floorRate(variant.kind));
      runs.push(await recorderRate(variant));
    }
    const [r, f] = [median(runs.map((run) => run.rate)), median(floor)];
    const natsCpu = runs.every((run) => run.natsCpuUs !== null) ? median(runs.map((run) => run.natsCpuUs!)).toFixed(1) : "n/a";
    lines.push(
      `${variant.label.padEnd(22)}${r.toFixed(0).padStart(17)}${f.toFixed(0).padStart(15)}${(r / f).toFixed(2).padStart(18)}${median(runs.map((run) => run.cpuUs)).toFixed(1).padStart(12)}${natsCpu.padStart(17)}`,
    );
  }
} finally {
  await deleteNamespaceStreams(nc, ns);
  for (const schema of schemas) await dropTestSchema(admin, schema);
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  await admin.end();
  await nc.close();
}
console.log(lines.join("\n"));
