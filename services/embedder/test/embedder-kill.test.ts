/**
 * The embedder as deployed (src/main.ts in its own process) killed with SIGKILL in the middle of a day's backlog
 * while it holds an unwritten batch, then started again: ai_outputs ends with one row per symbol per 4 bars, no
 * hole, each equal to the featurizer over the stream's bars. The bars the dead process held come back only after
 * the ack wait, behind newer ones: their windows are rebuilt from the stream.
 */
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BAR_MS, natsNames, type ClosedBar } from "@gapfill/contracts";
import { openPostgresStore, type Store } from "@gapfill/kit";
import {
  capturingLogger,
  connectTestNats,
  connectTestPostgres,
  deleteNamespaceStreams,
  dropTestSchema,
  killServiceProcess,
  provisionTestTopology,
  publishBars,
  readStreamBars,
  startServiceProcess,
  startTcpProxy,
  TEST_DATABASE_URL,
  TEST_NATS_URL,
  TEST_SERIES_START,
  testBars,
  testDatabaseAddress,
  testDatabaseUrlVia,
  uniqueNamespace,
  waitFor,
  type ServiceProcess,
  type Sql,
  type TcpProxy,
} from "@gapfill/testkit";
import { drained, embedderConsumerState, expectedEmbeddings, storedEmbeddings } from "./support.ts";

const MAIN = join(import.meta.dirname, "..", "src", "main.ts");
const SYMBOLS = ["BTCUSDT", "ETHUSDT"];
/** A day of bars per symbol, published in two halves. */
const BARS_PER_SYMBOL = 5760;

let nc: NatsConnection;
let admin: Sql;
let proxy: TcpProxy;
let store: Store;
const ns = uniqueNamespace();
const processes: ServiceProcess[] = [];

beforeAll(async () => {
  nc = await connectTestNats();
  admin = connectTestPostgres();
  proxy = await startTcpProxy(testDatabaseAddress());
  await provisionTestTopology(nc, ns, { barsMaxAgeHours: 24 * 365 * 5 });
  store = await openPostgresStore({ url: TEST_DATABASE_URL, prepare: true, schema: ns, log: capturingLogger().log });
});

afterAll(async () => {
  await Promise.all(processes.map((p) => killServiceProcess(p)));
  await store.close();
  await proxy.close();
  await deleteNamespaceStreams(nc, ns);
  await dropTestSchema(admin, ns);
  await nc.close();
  await admin.end();
});

function startEmbedderProcess(): ServiceProcess {
  const p = startServiceProcess(MAIN, {
    NATS_URL: TEST_NATS_URL,
    NATS_NAMESPACE: ns,
    DATABASE_URL: testDatabaseUrlVia(proxy.port),
    DATABASE_SCHEMA: ns,
    EMBEDDER_ACK_WAIT_MS: "2000",
    EMBEDDER_METRICS_PORT: "0",
    LOG_LEVEL: "info",
  });
  processes.push(p);
  return p;
}

const rowCount = async () => (await admin.unsafe<{ n: number }[]>(`select count(*)::int as n from ${ns}.ai_outputs`))[0]!.n;

describe("embedder process", () => {
  it("ends with every embedding of a day's backlog, equal to the featurizer, across a kill -9 mid-backlog", { timeout: 120_000 }, async () => {
    const series = SYMBOLS.map((symbol, i) => testBars(symbol, TEST_SERIES_START, BARS_PER_SYMBOL, i + 1));
    const half = (from: number, to: number): ClosedBar[] => series.flatMap((bars) => bars.slice(from, to)).sort((a, b) => a.ts - b.ts);
    await publishBars(nc, ns, half(0, BARS_PER_SYMBOL / 2));

    const a = startEmbedderProcess();
    await a.logged("embedder ready");
    await waitFor(async () => (await rowCount()) > 0, { timeoutMs: 30_000, intervalMs: 10, what: "the first rows" });

    // The database goes away and the second half arrives: the embedder holds a batch it cannot write.
    proxy.sever();
    await publishBars(nc, ns, half(BARS_PER_SYMBOL / 2, BARS_PER_SYMBOL));
    await a.logged("embeddings upsert failed; retrying (the bars stay in JetStream)");
    await killServiceProcess(a);
    expect((await a.exited).signal).toBe("SIGKILL");
    const afterKill = await embedderConsumerState(nc, ns);
    expect(afterKill.ackPending).toBeGreaterThan(0);
    const rowsBefore = await rowCount();
    expect(rowsBefore).toBeLessThan(expectedEmbeddings(series.flat(), 4, 240).length);

    proxy.restore();
    const b = startEmbedderProcess();
    await b.logged("embedder ready");
    const { state } = await (await jetstreamManager(nc)).streams.info(natsNames(ns).streams.bars);
    // Consumer info makes a NATS 2.9 server count the pending bars of a wildcard filter: poll it sparingly.
    await waitFor(() => drained(nc, ns, state.last_seq), { timeoutMs: 60_000, intervalMs: 500, what: "every bar embedded and acknowledged" });

    const expected = expectedEmbeddings((await readStreamBars(nc, ns)).values(), 4, 240);
    // (5760 - 239) bars per symbol have a full window; every 4th is an embedding bar.
    expect(expected).toHaveLength(SYMBOLS.length * 1381);
    const stored = await storedEmbeddings(store);
    expect(stored).toEqual(expected);
    for (const symbol of SYMBOLS) {
      const ts = stored.filter((row) => row.symbol === symbol).map((row) => row.ts);
      expect(ts.slice(1).every((t, i) => t - ts[i]! === 4 * BAR_MS)).toBe(true);
    }
    // The dead process's batch came back behind newer bars: its windows were read back from the stream.
    const rebuilt = b.logs.filter((line) => line.msg === "read the bars before a window from the stream" && (line.read as number) > 0);
    expect(rebuilt.length).toBeGreaterThan(0);

    b.child.kill("SIGTERM");
    expect(await b.exited).toEqual({ code: 0, signal: null });
  });
});
