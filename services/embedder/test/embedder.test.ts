/**
 * The embedder against real NATS and Postgres: ai_outputs ends equal to the featurizer applied to the stream's bars,
 * one row per symbol per EMBED_EVERY_BARS bars, for a backlog and for bars arriving live; malformed messages are
 * terminated; a gap leaves no window across it; EMBEDDER=off does nothing.
 */
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BAR_MS, embedderConfigSchema, natsNames, type ClosedBar, type NatsNames } from "@gapfill/contracts";
import { createMetricsRegistry, loadConfig, openPostgresStore, type Store } from "@gapfill/kit";
import {
  capturingLogger,
  connectTestNats,
  connectTestPostgres,
  deleteNamespaceStreams,
  dropTestSchema,
  provisionTestTopology,
  publishBars,
  readStreamBars,
  TEST_DATABASE_URL,
  TEST_SERIES_START,
  testBars,
  uniqueNamespace,
  waitFor,
  type Sql,
} from "@gapfill/testkit";
import { EMBEDDER_DURABLE, embedderService, startEmbedder } from "../src/index.ts";
import { drained, embedderConsumerState, expectedEmbeddings, storedEmbeddings } from "./support.ts";

let nc: NatsConnection;
let jsm: JetStreamManager;
let admin: Sql;
const namespaces: string[] = [];
const stores: Store[] = [];
const stops: (() => Promise<void>)[] = [];

beforeAll(async () => {
  nc = await connectTestNats();
  jsm = await jetstreamManager(nc);
  admin = connectTestPostgres();
});

afterAll(async () => {
  for (const stop of stops) await stop();
  for (const store of stores) await store.close();
  for (const ns of namespaces) {
    await deleteNamespaceStreams(nc, ns);
    await dropTestSchema(admin, ns);
  }
  await nc.close();
  await admin.end();
});

async function freshWorld(): Promise<{ names: NatsNames; store: Store }> {
  const ns = uniqueNamespace();
  namespaces.push(ns);
  const names = await provisionTestTopology(nc, ns, { barsMaxAgeHours: 24 * 365 * 5 });
  const { log } = capturingLogger();
  const store = await openPostgresStore({ url: TEST_DATABASE_URL, prepare: true, schema: ns, log });
  stores.push(store);
  return { names, store };
}

/** Several symbols' bars interleaved by open time, as the ingestor publishes them. */
function interleaved(...series: ClosedBar[][]): ClosedBar[] {
  return series.flat().sort((a, b) => a.ts - b.ts);
}

async function runEmbedder(names: NatsNames, store: Store, every: number, windowBars: number) {
  const { log, lines } = capturingLogger();
  const registry = createMetricsRegistry("embedder");
  const embedder = await startEmbedder({
    config: { NATS_NAMESPACE: names.namespace, EMBED_EVERY_BARS: every, EMBED_WINDOW_BARS: windowBars, EMBEDDER_ACK_WAIT_MS: 30_000 },
    nc,
    store,
    log,
    registry,
  });
  stops.push(() => embedder.stop());
  return { embedder, lines, registry };
}

async function untilDrained(names: NatsNames): Promise<void> {
  const { state } = await jsm.streams.info(names.streams.bars);
  // Consumer info makes a NATS 2.9 server count the pending bars of a wildcard filter: poll it sparingly.
  await waitFor(() => drained(nc, names.namespace, state.last_seq), { timeoutMs: 30_000, intervalMs: 250, what: "every bar embedded and acknowledged" });
}

/** Open times of a symbol's rows must step by exactly `every` bars: no hole, no extra row. */
function expectNoHoles(rows: { symbol: string; ts: number }[], symbol: string, every: number): void {
  const ts = rows.filter((row) => row.symbol === symbol).map((row) => row.ts);
  expect(ts.length).toBeGreaterThan(1);
  expect(ts.slice(1).map((t, i) => t - ts[i]!)).toEqual(Array(ts.length - 1).fill(every * BAR_MS));
}

describe("embedder", () => {
  it("embeds every 4th bar of each symbol from its 240-bar window, equal to the featurizer over the stream, backlog then live", async () => {
    const { names, store } = await freshWorld();
    const btc = testBars("BTCUSDT", TEST_SERIES_START, 800, 1);
    const eth = testBars("ETHUSDT", TEST_SERIES_START, 800, 2);
    await publishBars(nc, names.namespace, interleaved(btc.slice(0, 700), eth.slice(0, 700)));
    const { embedder, registry } = await runEmbedder(names, store, 4, 240);
    await embedder.ready;
    await untilDrained(names);
    const backlog = expectedEmbeddings((await readStreamBars(nc, names.namespace)).values(), 4, 240);
    // (700 - 239) bars have a full window; every 4th of them is an embedding bar.
    expect(backlog).toHaveLength(2 * 116);
    expect(await storedEmbeddings(store)).toEqual(backlog);

    // Bars arriving live extend the same windows.
    await publishBars(nc, names.namespace, interleaved(btc.slice(700), eth.slice(700)));
    await untilDrained(names);
    const all = expectedEmbeddings((await readStreamBars(nc, names.namespace)).values(), 4, 240);
    expect(all).toHaveLength(2 * 141);
    const stored = await storedEmbeddings(store);
    expect(stored).toEqual(all);
    for (const symbol of ["BTCUSDT", "ETHUSDT"]) expectNoHoles(stored, symbol, 4);
    const written = (await registry.getSingleMetric("embedder_embeddings_written_total")!.get()).values;
    expect(written.reduce((sum, v) => sum + v.value, 0)).toBe(all.length);
  });

  it("terminates a message that is not a closed bar instead of retrying it, and makes no window across a gap", async () => {
    const { names, store } = await freshWorld();
    const bars = testBars("BTCUSDT", TEST_SERIES_START, 40, 3);
    // Bars 15 and 16 never arrive: no window of 8 may span them.
    const withGap = [...bars.slice(0, 15), ...bars.slice(17)];
    await publishBars(nc, names.namespace, withGap.slice(0, 20));
    nc.publish(names.subjects.bars("BTCUSDT"), "{not a bar");
    nc.publish(names.subjects.bars("BTCUSDT"), JSON.stringify({ ...bars[39]!, symbol: "ETHUSDT" }));
    await nc.flush();
    await publishBars(nc, names.namespace, withGap.slice(20));
    await waitFor(async () => (await jsm.streams.info(names.streams.bars)).state.messages === withGap.length + 2, { what: "every message stored" });

    const { embedder, lines } = await runEmbedder(names, store, 2, 8);
    await embedder.ready;
    await untilDrained(names);
    const expected = expectedEmbeddings(withGap, 2, 8);
    expect(await storedEmbeddings(store)).toEqual(expected);
    // Windows end at odd bars: 7 to 13 before the gap; after it the first full window is bars 17..24, so from 25.
    expect(expected.map((row) => (row.ts - TEST_SERIES_START) / BAR_MS)).toEqual([7, 9, 11, 13, 25, 27, 29, 31, 33, 35, 37, 39]);
    const terminated = lines.filter((line) => line.msg === "not a closed bar: terminated");
    expect(terminated.map((line) => line.reason)).toEqual([expect.stringMatching(/^not JSON/), "symbol ETHUSDT published on the subject of BTCUSDT"]);
    expect(await embedderConsumerState(nc, names.namespace)).toMatchObject({ ackPending: 0, redelivered: 0 });
  });

  it("with EMBEDDER=off starts, becomes ready and does nothing: no consumer, no rows", async () => {
    const { names, store } = await freshWorld();
    await publishBars(nc, names.namespace, testBars("BTCUSDT", TEST_SERIES_START, 300, 4));
    const { log, lines } = capturingLogger();
    const config = loadConfig(embedderConfigSchema, "embedder", { NATS_NAMESPACE: names.namespace, EMBEDDER: "off", DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: names.namespace });
    const service = await embedderService.start({ config, nc, names: natsNames(names.namespace), log, registry: createMetricsRegistry("embedder"), signal: new AbortController().signal });
    await service.ready;
    expect(lines.map((line) => line.msg)).toEqual(["embedder disabled (EMBEDDER=off): ai_outputs is left to an external producer; nothing to do"]);
    const consumers: string[] = [];
    for await (const info of jsm.consumers.list(names.streams.bars)) consumers.push(info.name);
    expect(consumers).not.toContain(EMBEDDER_DURABLE);
    expect(await storedEmbeddings(store)).toEqual([]);
    await service.stop();
    await service.done;
  });
});
