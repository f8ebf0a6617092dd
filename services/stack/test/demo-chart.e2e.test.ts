/**
 * End to end, as a user sees it: `npm run demo`'s stack (simulator, ingestor, recorder, embedder, scheduler,
 * ml-runner, ml-infer, gateway as real processes, two symbols, ML intervals of seconds) and the chart page in headless
 * Chromium. One stack and one page for every scenario, in this order: the bars the page holds are contiguous and
 * equal the simulator's ground truth; each is drawn with its volume and taker-buy volume; they stay so after the
 * gateway process is killed and restarted under the page, and after the session is stopped; the header shows the
 * newest prediction and the prediction pane draws the model's line; a reloaded page loads that line from the
 * prediction history before the stream opens; the symbol picker switches to the other symbol's candles and
 * predictions; ai_outputs holds the featurizer over price_15s, one row per 4 bars, also after the embedder is killed
 * with SIGKILL. Screenshots go to artifacts/.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { isDeepStrictEqual } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { jetstreamManager } from "@nats-io/jetstream";
import {
  BAR_MS,
  BUILTIN_PRODUCER,
  FEATURE_VERSION,
  isEmbeddingBar,
  natsNames,
  predictionEventSchema,
  stackConfigSchema,
  TICK_KINDS,
  type ClosedBar,
  type PredictionEvent,
  type PredictionsResponse,
} from "@gapfill/contracts";
import { embeddingAt } from "@gapfill/embedder";
import { createLogger, decodeTickMessage, loadConfig, MAX_PAGE_LIMIT, openEmbeddedStore, REPO_ROOT } from "@gapfill/kit";
import {
  connectTestNats,
  deleteNamespaceStreams,
  freePort,
  provisionTestTopology,
  publishBars,
  readStreamBars,
  readStreamPredictions,
  TEST_NATS_URL,
  testBars,
  uniqueNamespace,
  waitFor,
} from "@gapfill/testkit";
import { runStack, type RunningStack } from "../src/index.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARTIFACTS = join(REPO_ROOT, "artifacts");
const SYMBOL = "BTCUSDT";
/** The demo runs both; the page starts on the first and its picker switches to this one. */
const OTHER = "ETHUSDT";
const EMBED_WINDOW = 60;
/** Short ML intervals, so the first model and its predictions come within a minute or two. */
const RETRAIN_SECONDS = 30;
const INFER_SECONDS = 10;

const namespace = uniqueNamespace("e2e");
const demo = `${namespace}_demo`;
const demoNames = natsNames(demo);
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
  symbol: string | null;
  live: boolean;
  reconnects: number;
  lastTs: number | null;
  state: string;
}

/** A prediction on the page: one from the history has no `scored_at` (only the stream's events say it). */
type PagePrediction = Omit<PredictionEvent, "scored_at"> & { scored_at?: string };

/** The page's `window.gapfill` (services/gateway/public/app.js). */
interface PageHooks {
  closedBars(): ClosedBar[];
  status: PageStatus;
  symbols(): string[];
  predictions(): PagePrediction[];
  predictionVersion(): string | null;
  newestPrediction(): PagePrediction | null;
  seriesData(name: "candles" | "volume" | "takerBuy" | "predictions"): { time: number; value: number }[];
  panes(): number;
  paintedPixels(pane: number, color: string): number;
  colors: Record<"volume" | "takerBuy" | "prediction", string>;
}
type WithHooks = { gapfill: PageHooks };

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
      // An hour of backfill holds few 240-bar windows: 60-bar windows give about 45 rows of history per symbol.
      EMBED_WINDOW_BARS: String(EMBED_WINDOW),
      BINANCE_SYMBOL: `${SYMBOL},${OTHER}`,
      // A first model as soon as both symbols' history is embedded: labels 60 s ahead, 30 rows are enough.
      ML_INTERVAL_SECONDS: String(RETRAIN_SECONDS),
      INFER_INTERVAL_SECONDS: String(INFER_SECONDS),
      ML_MIN_ROWS: "30",
      ML_HORIZON_SECONDS: "60",
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

const closedBars = () => page.evaluate(() => (globalThis as unknown as WithHooks).gapfill.closedBars());
const pageStatus = () => page.evaluate(() => ({ ...(globalThis as unknown as WithHooks).gapfill.status }));

async function groundTruth(symbol: string, fromTs: number, toTs: number): Promise<ClosedBar[]> {
  const response = await fetch(`${simUrl}/_sim/bars?symbol=${symbol}&from=${fromTs}&to=${toTs}`);
  expect(response.status).toBe(200);
  return (await response.json()) as ClosedBar[];
}

/**
 * Bars of one symbol in contiguous 15 s steps, no duplicates, and field for field the simulator's bars (agg ids
 * where the bar has them).
 */
async function expectContiguousGroundTruth(symbol: string, bars: ClosedBar[]): Promise<void> {
  expect(bars.length).toBeGreaterThan(1);
  expect(new Set(bars.map((bar) => bar.symbol))).toEqual(new Set([symbol]));
  for (let i = 1; i < bars.length; i += 1) expect(bars[i]!.ts - bars[i - 1]!.ts, `step after ${bars[i - 1]!.ts}`).toBe(BAR_MS);
  const truth = await groundTruth(symbol, bars[0]!.ts, bars.at(-1)!.ts + BAR_MS);
  expect(truth.map((bar) => bar.ts)).toEqual(bars.map((bar) => bar.ts));
  bars.forEach((bar, i) => {
    const expected = truth[i]!;
    const ids = bar.first_agg_id === null ? { first_agg_id: null, last_agg_id: null } : {};
    expect(bar, `bar ${bar.ts}`).toEqual({ ...expected, ...ids });
  });
}

/** Waits for a bar newer than the newest the page holds now. */
async function nextLiveBar(what: string): Promise<void> {
  const from = (await pageStatus()).lastTs ?? 0;
  await waitFor(async () => ((await pageStatus()).lastTs ?? 0) > from, { timeoutMs: 40_000, what });
}

/** The last prediction on the symbol's subject in the demo's ML events stream, or null. */
async function lastPublishedPrediction(symbol: string): Promise<PredictionEvent | null> {
  const jsm = await jetstreamManager(nc);
  const last = await jsm.direct.getMessage(demoNames.streams.mlEvents, { last_by_subj: demoNames.subjects.predictions(symbol) });
  return last ? predictionEventSchema.parse(last.json()) : null;
}

/** Every prediction published in the demo's ML events stream, by symbol, ts and model version. */
async function publishedPredictions(): Promise<Map<string, PredictionEvent>> {
  return new Map((await readStreamPredictions(nc, demo)).map((p) => [`${p.symbol}:${p.ts}:${p.model_version}`, p]));
}

/**
 * Waits until the page's newest prediction is the last one published for its symbol and the header shows it, then
 * checks that the pane draws the line of that prediction's model: more than one point (the model has scored the
 * recent bars), every one as published.
 */
async function expectNewestPredictionShown(symbol: string): Promise<PagePrediction> {
  const shown = await waitFor(
    async () => {
      const onPage = {
        newest: await page.evaluate(() => (globalThis as unknown as WithHooks).gapfill.newestPrediction()),
        header: (await page.locator("#prediction").textContent()) ?? "",
      };
      const published = await lastPublishedPrediction(symbol);
      const expectedHeader = published && `${published.prob_up.toFixed(2)} · model ${published.model_version} · `;
      return published && isDeepStrictEqual(onPage.newest, published) && onPage.header.startsWith(expectedHeader!) && onPage;
    },
    // The first model: a retrain tick finding both symbols' history embedded, then an infer pass.
    { timeoutMs: 240_000, intervalMs: 500, what: `the newest ${symbol} prediction in the header` },
  );
  expect(shown.header).toMatch(/^[01]\.\d\d · model [\w.-]+ · \d+ (s|min) ago$/);
  expect(await page.locator("#status").textContent()).toContain("P(up 15 min)");

  const pane = await waitFor(
    async () => {
      const state = await page.evaluate(() => {
        const g = (globalThis as unknown as WithHooks).gapfill;
        return {
          newest: g.newestPrediction(),
          held: g.predictions(),
          version: g.predictionVersion(),
          drawn: g.seriesData("predictions").map((point) => [point.time, point.value]),
          panes: g.panes(),
          pixels: g.paintedPixels(1, g.colors.prediction),
        };
      });
      // Drawn at the next frame: the same points as the predictions held, in time order. A model's first pass
      // arrives one event at a time, and a new model (retrains come every 30 s) starts its line afresh: wait for a
      // line of the newest model's.
      const drawnAll = isDeepStrictEqual(state.drawn, state.held.map((p) => [p.ts / 1000, p.prob_up]));
      return drawnAll && state.pixels > 0 && state.held.length > 1 && state.version === state.newest?.model_version && state;
    },
    { timeoutMs: 60_000, what: "the newest model's prediction line drawn" },
  );
  expect(pane.panes).toBe(2);
  expect(pane.held.length).toBeGreaterThan(1);
  expect(pane.version).toBe(pane.newest!.model_version);
  expect(new Set(pane.held.map((p) => p.model_version))).toEqual(new Set([pane.version]));
  const published = await publishedPredictions();
  for (const held of pane.held) expect(published.get(`${held.symbol}:${held.ts}:${held.model_version}`), `held ${held.ts}`).toMatchObject(held);
  expect(new Set(pane.held.map((p) => p.symbol))).toEqual(new Set([symbol]));
  return shown.newest!;
}

it("shows candles that are contiguous and match the simulator, from the demo's own namespace", async () => {
  await page.goto(stack.gatewayUrl, { waitUntil: "domcontentloaded" });
  await waitFor(async () => {
    const status = await pageStatus();
    return status.live && status.lastTs !== null;
  }, { timeoutMs: 60_000, what: "the page to reach the live edge" });
  // The chart library draws into canvases inside #chart.
  expect(await page.locator("#chart canvas").count()).toBeGreaterThan(0);
  expect(await page.locator("#state").textContent()).toMatch(/live|lagging/);

  // A bar closed after the page went live arrives over the open stream.
  await nextLiveBar("a live bar");
  const bars = await closedBars();
  expect(bars.length).toBeGreaterThan(200);
  await expectContiguousGroundTruth(SYMBOL, bars);

  // The simulated bars went to the demo's own namespace, never to the one live data would use.
  expect(output.join("")).toMatch(new RegExp(`NATS namespace "${demo}".*not passed on: DATABASE_URL`));
  expect(output.join("")).toMatch(new RegExp(`removed the previous demo's ${demo}_BARS, .*bars.${demo}.sqlite3`));
  const demoStream = await readStreamBars(nc, demo);
  expect(demoStream.has(`${SYMBOL}:${staleBar.ts}`)).toBe(false);
  expect(bars.some((bar) => bar.ts <= staleBar.ts)).toBe(false);
  for (const bar of bars) expect(demoStream.get(`${SYMBOL}:${bar.ts}`), `bar ${bar.ts} in the demo stream`).toEqual(bar);
  await expect(readStreamBars(nc, namespace)).rejects.toThrow(/stream not found/);
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, "chart.png") });
}, 120_000);

it("draws each bar's volume with its taker-buy part over it", async () => {
  const drawn = await page.evaluate(() => {
    const g = (globalThis as unknown as WithHooks).gapfill;
    return {
      bars: g.closedBars().map((bar) => ({ time: bar.ts / 1000, volume: bar.volume, takerBuy: bar.taker_buy_volume })),
      volume: g.seriesData("volume").map((point) => [point.time, point.value]),
      takerBuy: g.seriesData("takerBuy").map((point) => [point.time, point.value]),
      pixels: { volume: g.paintedPixels(0, g.colors.volume), takerBuy: g.paintedPixels(0, g.colors.takerBuy) },
    };
  });
  // Every closed bar, then the forming one when it is drawn.
  expect(drawn.volume.length - drawn.bars.length).toBeGreaterThanOrEqual(0);
  expect(drawn.volume.length - drawn.bars.length).toBeLessThanOrEqual(1);
  expect(drawn.volume.slice(0, drawn.bars.length)).toEqual(drawn.bars.map((bar) => [bar.time, bar.volume]));
  expect(drawn.takerBuy.slice(0, drawn.bars.length)).toEqual(drawn.bars.map((bar) => [bar.time, bar.takerBuy]));
  // Both colours are on screen: the share bought by takers is seen against the whole bar.
  expect(drawn.pixels.volume).toBeGreaterThan(0);
  expect(drawn.pixels.takerBuy).toBeGreaterThan(0);
});

it("resumes with every bar once after the gateway is killed under the page", async () => {
  const before = await closedBars();
  const gatewayPid = stack.supervisor.pid("gateway")!;
  process.kill(gatewayPid, "SIGKILL");
  await waitFor(() => stack.supervisor.pid("gateway") !== undefined && stack.supervisor.pid("gateway") !== gatewayPid, {
    timeoutMs: 20_000,
    what: "the supervisor to restart the gateway",
  });
  // The page resumes with Last-Event-ID and receives a bar closed after that.
  const resumedAt = (await pageStatus()).lastTs!;
  await waitFor(async () => {
    const status = await pageStatus();
    return status.reconnects >= 1 && (status.lastTs ?? 0) > resumedAt;
  }, { timeoutMs: 60_000, what: "the page to resume and receive a new bar" });
  const after = await closedBars();
  expect(after.length).toBeGreaterThan(before.length);
  await expectContiguousGroundTruth(SYMBOL, after);
  await page.screenshot({ path: join(ARTIFACTS, "chart-after-gateway-restart.png") });
}, 120_000);

it("carries on with a new session when its owner stops the session", async () => {
  const { sessionId } = await pageStatus();
  const token = ((await (await fetch(`${stack.gatewayUrl}/dev/token`, { method: "POST" })).json()) as { access_token: string }).access_token;
  const stop = await fetch(`${stack.gatewayUrl}/session/stop`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ session_id: sessionId }),
  });
  expect(stop.status).toBe(200);
  // The stream ends with `stopped`; the page starts a new session and carries on.
  await waitFor(async () => (await pageStatus()).sessionId !== sessionId, { timeoutMs: 20_000, what: "a new session" });
  await nextLiveBar("a bar on the new session");
  await expectContiguousGroundTruth(SYMBOL, await closedBars());
}, 120_000);

it("shows the newest prediction in the header and draws the predictions in their pane", async () => {
  await expectNewestPredictionShown(SYMBOL);
  await page.screenshot({ path: join(ARTIFACTS, "chart-predictions.png") });
}, 300_000);

it("loads the model's prediction history as it starts: a reloaded page holds the line before the next prediction", async () => {
  const loaded = await waitFor(
    async () => {
      const answered = page.waitForResponse((response) => new URL(response.url()).pathname === "/predictions");
      await page.reload({ waitUntil: "domcontentloaded" });
      const response = await answered;
      expect(response.status()).toBe(200);
      const history = (await response.json()) as PredictionsResponse;
      await waitFor(async () => (await pageStatus()).live, { timeoutMs: 60_000, what: "the reloaded page live" });
      const pane = await page.evaluate(() => {
        const g = (globalThis as unknown as WithHooks).gapfill;
        return { version: g.predictionVersion(), held: g.predictions(), oldestBarTs: g.closedBars()[0]!.ts };
      });
      // A new model's first prediction between the two replaced the line with its own (retrains come every 30 s).
      return pane.version === history.model_version && { history, pane };
    },
    { timeoutMs: 120_000, intervalMs: 1000, what: "a reload without a new model in between" },
  );
  const { history, pane } = loaded;
  expect(history.symbol).toBe(SYMBOL);
  expect(history.predictions.length).toBeGreaterThan(1);
  // The stream sends one prediction as it opens; every point of the history is on the pane, with its value.
  const held = new Map(pane.held.map((p) => [p.ts, p.prob_up]));
  for (const point of history.predictions) expect(held.get(point.ts), `point ${point.ts}`).toBe(point.prob_up);
  // The history: from the oldest bar the page holds, oldest first, one model's, each as ml-infer published it, and
  // none of that model's missing up to its newest (ml-infer stores a pass after publishing it: a newer one may be
  // published and not yet stored).
  const ts = history.predictions.map((p) => p.ts);
  expect(ts.slice(1).every((t, i) => t > ts[i]!)).toBe(true);
  expect(ts[0]).toBeGreaterThanOrEqual(pane.oldestBarTs);
  const published = [...(await publishedPredictions()).values()].filter(
    (p) => p.symbol === SYMBOL && p.model_version === history.model_version && p.ts >= pane.oldestBarTs && p.ts <= ts.at(-1)!,
  );
  expect(history.predictions).toEqual(published.sort((a, b) => a.ts - b.ts).map(({ ts, prob_up }) => ({ ts, prob_up })));
  await page.screenshot({ path: join(ARTIFACTS, "chart-prediction-history.png") });
}, 180_000);

it("switches to the other symbol with the picker: its candles, contiguous and exact, and its predictions", async () => {
  expect(await page.evaluate(() => (globalThis as unknown as WithHooks).gapfill.symbols())).toEqual([SYMBOL, OTHER]);
  expect(await page.locator("#symbol-picker").isVisible()).toBe(true);
  const { sessionId: previous } = await pageStatus();
  await page.selectOption("#symbol-picker", OTHER);
  await waitFor(async () => {
    const status = await pageStatus();
    return status.symbol === OTHER && status.live && status.lastTs !== null;
  }, { timeoutMs: 60_000, what: `the page live on ${OTHER}` });
  expect(new URL(page.url()).searchParams.get("symbol")).toBe(OTHER);
  await nextLiveBar(`a live ${OTHER} bar`);
  const bars = await closedBars();
  expect(bars.length).toBeGreaterThan(200);
  await expectContiguousGroundTruth(OTHER, bars);
  await expectNewestPredictionShown(OTHER);
  // The page stopped the session it left: its stream is refused.
  await waitFor(async () => (await fetch(`${stack.gatewayUrl}/stream/gap?session_id=${previous}`)).status === 410, {
    timeoutMs: 10_000,
    what: "the previous session stopped",
  });
  await page.screenshot({ path: join(ARTIFACTS, `chart-${OTHER.toLowerCase()}.png`) });
}, 180_000);

it("fills ai_outputs with the featurizer over price_15s, one row per 4 bars, across a kill -9 of the embedder, and ticks", async () => {
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

  // The scheduler ticked both kinds at start, at the intervals given (printed by the stack).
  expect(output.join("")).toMatch(new RegExp(`ML inputs: ticks retrain every ${RETRAIN_SECONDS} s, infer every ${INFER_SECONDS} s`));
  const jsm = await jetstreamManager(nc);
  for (const kind of TICK_KINDS) {
    const subject = demoNames.subjects.tick(kind);
    const last = await jsm.direct.getMessage(demoNames.streams.mlTicks, { last_by_subj: subject });
    const interval = kind === "retrain" ? RETRAIN_SECONDS : INFER_SECONDS;
    expect(last && decodeTickMessage(subject, last.data)).toMatchObject({ ok: true, tick: { kind, interval_s: interval } });
  }
}, 240_000);
