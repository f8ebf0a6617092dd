/**
 * End to end, as a user sees it: `npm run demo`'s stack (simulator, ingestor, recorder, embedder, scheduler, gateway
 * as real processes) and the chart page in headless Chromium. The bars the page holds must be contiguous and equal
 * the simulator's ground truth, also after the gateway process is killed and restarted under the page; ai_outputs
 * must hold the featurizer over price_15s, one row per 4 bars, also after the embedder is killed with SIGKILL.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { jetstreamManager } from "@nats-io/jetstream";
import { BAR_MS, BUILTIN_PRODUCER, FEATURE_VERSION, isEmbeddingBar, natsNames, stackConfigSchema, TICK_KINDS, type ClosedBar } from "@gapfill/contracts";
import { embeddingAt } from "@gapfill/embedder";
import { createLogger, decodeTickMessage, loadConfig, MAX_PAGE_LIMIT, openEmbeddedStore, REPO_ROOT } from "@gapfill/kit";
import {
  connectTestNats,
  deleteNamespaceStreams,
  freePort,
  provisionTestTopology,
  publishBars,
  readStreamBars,
  TEST_NATS_URL,
  testBars,
  uniqueNamespace,
  waitFor,
} from "@gapfill/testkit";
import { runStack, type RunningStack } from "../src/index.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARTIFACTS = join(REPO_ROOT, "artifacts");
const SYMBOL = "BTCUSDT";
const EMBED_WINDOW = 60;

const namespace = uniqueNamespace("e2e");
const dataDir = mkdtempSync(join(tmpdir(), "gapfill-e2e-"));
const output: string[] = [];
/**
 * A bar from an earlier demo's market, 3 hours ago (before this demo's 2 h of history): the new demo must start
 * without it, or the ingestor would resume from it and the page would show it.
 */
const staleBar = testBars(SYMBOL, Math.floor((Date.now() - 3 * 3_600_000) / BAR_MS) * BAR_MS, 1, 99)[0]!;
let stack: RunningStack;
let simUrl: string;
let browser: Browser;
let page: Page;
let nc: Awaited<ReturnType<typeof connectTestNats>>;

interface PageStatus {
  sessionId: string | null;
  live: boolean;
  reconnects: number;
  lastTs: number | null;
  state: string;
}

beforeAll(async () => {
  const [port, simPort] = [await freePort(), await freePort()];
  simUrl = `http://127.0.0.1:${simPort}`;
  const config = loadConfig(stackConfigSchema, "stack", {
    NATS_URL: TEST_NATS_URL,
    DATA_DIR: dataDir,
    PORT: String(port),
    SIM_PORT: String(simPort),
    SIM_HISTORY_HOURS: "2",
    LOG_LEVEL: "info",
  });
  // What an earlier demo left behind: a bar of another simulated market in the stream and in the store.
  nc = await connectTestNats();
  await provisionTestTopology(nc, `${namespace}_demo`);
  await publishBars(nc, `${namespace}_demo`, [staleBar]);
  const staleStore = openEmbeddedStore({ dataDir, namespace: `${namespace}_demo`, log: createLogger({ service: "e2e", level: "silent" }) });
  await staleStore.upsertBars([staleBar]);
  await staleStore.close();
  stack = await runStack({
    mode: "demo",
    config,
    env: {
      ...process.env,
      NATS_NAMESPACE: namespace,
      // A database the demo must not reach: were it passed on, the recorder could not record and bootstrap would fail.
      DATABASE_URL: "postgres://127.0.0.1:1/not-for-simulated-bars",
      INGEST_BACKFILL_HOURS: "1",
      INGESTOR_METRICS_PORT: "0",
      RECORDER_METRICS_PORT: "0",
      GATEWAY_METRICS_PORT: "0",
      EMBEDDER_METRICS_PORT: "0",
      SCHEDULER_METRICS_PORT: "0",
      ML_RUNNER_METRICS_PORT: "0",
      ML_INFER_METRICS_PORT: "0",
      // An hour of backfill holds few 240-bar windows: 60-bar windows give about 45 rows of history.
      EMBED_WINDOW_BARS: String(EMBED_WINDOW),
      LOG_FORMAT: "json",
    },
    write: (text) => void output.push(text),
  });
  await stack.ready(90_000);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic", "--no-first-run"],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
}, 150_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  // The demo's streams (`<namespace>_demo_…`) carry the test's namespace as a prefix.
  await deleteNamespaceStreams(nc, namespace);
  await nc.close();
  rmSync(dataDir, { recursive: true, force: true });
}, 60_000);

const closedBars = () => page.evaluate(() => (globalThis as unknown as { gapfill: { closedBars(): ClosedBar[] } }).gapfill.closedBars());
const pageStatus = () => page.evaluate(() => ({ ...(globalThis as unknown as { gapfill: { status: PageStatus } }).gapfill.status }));

async function groundTruth(fromTs: number, toTs: number): Promise<ClosedBar[]> {
  const response = await fetch(`${simUrl}/_sim/bars?symbol=${SYMBOL}&from=${fromTs}&to=${toTs}`);
  expect(response.status).toBe(200);
  return (await response.json()) as ClosedBar[];
}

/** Contiguous 15 s steps, no duplicates, and field for field the simulator's bars (agg ids where the bar has them). */
async function expectContiguousGroundTruth(bars: ClosedBar[]): Promise<void> {
  expect(bars.length).toBeGreaterThan(1);
  for (let i = 1; i < bars.length; i += 1) expect(bars[i]!.ts - bars[i - 1]!.ts, `step after ${bars[i - 1]!.ts}`).toBe(BAR_MS);
  const truth = await groundTruth(bars[0]!.ts, bars.at(-1)!.ts + BAR_MS);
  expect(truth.map((bar) => bar.ts)).toEqual(bars.map((bar) => bar.ts));
  bars.forEach((bar, i) => {
    const expected = truth[i]!;
    const ids = bar.first_agg_id === null ? { first_agg_id: null, last_agg_id: null } : {};
    expect(bar, `bar ${bar.ts}`).toEqual({ ...expected, ...ids });
  });
}

it("shows candles that are contiguous, match the simulator, and keep going across a gateway restart", async () => {
  await page.goto(stack.gatewayUrl, { waitUntil: "domcontentloaded" });
  const live = await waitFor(async () => {
    const status = await pageStatus();
    return status.live && status.lastTs !== null && status;
  }, { timeoutMs: 60_000, what: "the page to reach the live edge" });
  // The chart library draws into canvases inside #chart.
  expect(await page.locator("#chart canvas").count()).toBeGreaterThan(0);
  expect(await page.locator("#state").textContent()).toMatch(/live|lagging/);

  // A bar closed after the page went live arrives over the open stream.
  await waitFor(async () => ((await pageStatus()).lastTs ?? 0) > live.lastTs!, { timeoutMs: 40_000, what: "a live bar" });
  const before = await closedBars();
  expect(before.length).toBeGreaterThan(200);
  await expectContiguousGroundTruth(before);

  // The simulated bars went to the demo's own namespace, never to the one live data would use.
  expect(output.join("")).toMatch(new RegExp(`NATS namespace "${namespace}_demo".*not passed on: DATABASE_URL`));
  expect(output.join("")).toMatch(new RegExp(`removed the previous demo's ${namespace}_demo_BARS, .*bars.${namespace}_demo.sqlite3`));
  const demoStream = await readStreamBars(nc, `${namespace}_demo`);
  expect(demoStream.has(`${SYMBOL}:${staleBar.ts}`)).toBe(false);
  expect(before.some((bar) => bar.ts <= staleBar.ts)).toBe(false);
  for (const bar of before) expect(demoStream.get(`${SYMBOL}:${bar.ts}`), `bar ${bar.ts} in the demo stream`).toEqual(bar);
  await expect(readStreamBars(nc, namespace)).rejects.toThrow(/stream not found/);
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, "chart.png") });

  // Kill the gateway under the page; the supervisor restarts it and the page resumes with Last-Event-ID.
  const gatewayPid = stack.supervisor.pid("gateway")!;
  process.kill(gatewayPid, "SIGKILL");
  await waitFor(() => stack.supervisor.pid("gateway") !== undefined && stack.supervisor.pid("gateway") !== gatewayPid, {
    timeoutMs: 20_000,
    what: "the supervisor to restart the gateway",
  });
  const resumedAt = (await pageStatus()).lastTs!;
  await waitFor(async () => {
    const status = await pageStatus();
    return status.reconnects >= 1 && (status.lastTs ?? 0) > resumedAt;
  }, { timeoutMs: 60_000, what: "the page to resume and receive a new bar" });
  const after = await closedBars();
  expect(after.length).toBeGreaterThan(before.length);
  await expectContiguousGroundTruth(after);
  await page.screenshot({ path: join(ARTIFACTS, "chart-after-gateway-restart.png") });

  // Its owner stops the session: the stream ends with `stopped`, the page starts a new session and carries on.
  const { sessionId } = await pageStatus();
  const token = ((await (await fetch(`${stack.gatewayUrl}/dev/token`, { method: "POST" })).json()) as { access_token: string }).access_token;
  const stop = await fetch(`${stack.gatewayUrl}/session/stop`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ session_id: sessionId }),
  });
  expect(stop.status).toBe(200);
  await waitFor(async () => (await pageStatus()).sessionId !== sessionId, { timeoutMs: 20_000, what: "a new session" });
  const stoppedAt = (await pageStatus()).lastTs!;
  await waitFor(async () => ((await pageStatus()).lastTs ?? 0) > stoppedAt, { timeoutMs: 40_000, what: "a bar on the new session" });
  await expectContiguousGroundTruth(await closedBars());
}, 300_000);

it("fills ai_outputs with the featurizer over price_15s, one row per 4 bars, across a kill -9 of the embedder, and ticks", async () => {
  const demo = `${namespace}_demo`;
  const store = openEmbeddedStore({ dataDir, namespace: demo, log: createLogger({ service: "e2e", level: "silent" }) });
  try {
    /** Every row, and what the featurizer makes of the recorded bars for each embedding bar up to the newest row. */
    const compare = async () => {
      const rows = [];
      for await (const row of store.exportEmbeddings({ fromTs: 0, toTs: Date.now() + 3_600_000, symbol: SYMBOL })) rows.push(row);
      const bars = (await store.pageNewestFirst(SYMBOL, { limit: MAX_PAGE_LIMIT })).reverse();
      const newest = rows.at(-1)?.ts ?? 0;
      const expected = bars
        .filter((bar) => bar.ts <= newest && isEmbeddingBar(bar.ts, 4))
        .flatMap((bar) => {
          const embedding = embeddingAt(bars, bar.ts, EMBED_WINDOW);
          return embedding ? [{ symbol: SYMBOL, ts: bar.ts, embedding, producer: BUILTIN_PRODUCER, feature_version: FEATURE_VERSION }] : [];
        });
      return { rows, expected, recordedUpTo: bars.at(-1)?.ts ?? 0 };
    };
    // The history is embedded within seconds of the start; the recorder has the same bars in price_15s.
    const history = await waitFor(async () => {
      const state = await compare();
      return state.rows.length > 30 && state.recordedUpTo >= state.rows.at(-1)!.ts && state;
    }, { timeoutMs: 60_000, intervalMs: 500, what: "the demo's history embedded and recorded" });
    expect(history.rows).toEqual(history.expected);

    // Killed with SIGKILL, restarted by the supervisor: it rebuilds its window from the stream and goes on.
    const embedderPid = stack.supervisor.pid("embedder")!;
    process.kill(embedderPid, "SIGKILL");
    await waitFor(() => stack.supervisor.pid("embedder") !== undefined && stack.supervisor.pid("embedder") !== embedderPid, {
      timeoutMs: 20_000,
      what: "the supervisor to restart the embedder",
    });
    const lastBeforeKill = history.rows.at(-1)!.ts;
    const after = await waitFor(async () => {
      const state = await compare();
      return state.rows.at(-1)!.ts > lastBeforeKill && state.recordedUpTo >= state.rows.at(-1)!.ts && state;
    }, { timeoutMs: 120_000, intervalMs: 1000, what: "an embedding written after the restart" });
    expect(after.rows).toEqual(after.expected);
    const ts = after.rows.map((row) => row.ts);
    expect(ts.slice(1).every((t, i) => t - ts[i]! === 4 * BAR_MS)).toBe(true);
  } finally {
    await store.close();
  }

  // The scheduler ticked both kinds at start, at the demo's intervals (printed by the stack).
  expect(output.join("")).toMatch(/ML inputs: ticks retrain every 120 s, infer every 30 s/);
  const jsm = await jetstreamManager(nc);
  const names = natsNames(demo);
  for (const kind of TICK_KINDS) {
    const last = await jsm.direct.getMessage(names.streams.mlTicks, { last_by_subj: names.subjects.tick(kind) });
    expect(last && decodeTickMessage(names.subjects.tick(kind), last.data)).toMatchObject({ ok: true, tick: { kind, interval_s: kind === "retrain" ? 120 : 30 } });
  }
}, 240_000);
