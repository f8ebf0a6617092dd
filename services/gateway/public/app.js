// The chart page: session → bootstrap pages and prediction history → SSE gap stream → live bars and predictions,
// drawn with lightweight-charts. Plain ES module served as-is (no build step); the chart library is served from
// node_modules at /vendor/.
import {
  CandlestickSeries,
  HistogramSeries,
  LineSeries,
  LineStyle,
  createChart,
} from "/vendor/lightweight-charts.standalone.production.mjs";

const BAR_MS = 15_000;
/** Bootstrap pages loaded at start: 2 × 5,000 bars ≈ 42 h of history. */
const BOOTSTRAP_PAGES = 2;
/** Parts of the prediction history followed at most; one holds 10,000, a prediction for every bar of the two pages. */
const PREDICTION_HISTORY_PARTS = 10;
/** Live but no new closed bar for this long past the expected one: show "lagging". */
const LAGGING_AFTER_MS = BAR_MS + 10_000;
const TOKEN_KEY = "gapfill.access_token";
const COLORS = {
  up: "#26a69a",
  down: "#ef5350",
  // A bar's whole volume in the sell colour with its taker-buy part drawn over it from the base in the buy colour:
  // the bar's height is the volume and its green share the taker-buy share, read at a glance without a legend.
  volume: "#7a3b3b",
  takerBuy: "#2e7d6f",
  prediction: "#e3b341",
};

const closed = new Map();
let forming = null;
/**
 * The pane shows one model's line: `predictionVersion`'s predictions by bar ts. Those of the history lack `scored_at`,
 * which only the stream's events carry.
 */
let predictionVersion = null;
const predictions = new Map();
let newestPredictionTs = null;
/** Set when the history was just loaded for the stream about to open: its first open needs no other load. */
let predictionHistoryFresh = false;
let session = null;
let stream = null;
let opens = 0;
/** Consecutive refused streams or failed session starts; reset by a stream that opens. */
let failures = 0;
const retryDelayMs = () => Math.min(30_000, 2000 * 2 ** Math.max(0, failures - 1));
let serverClockOffsetMs = 0;
/** The symbols the gateway serves; the picker shows when there are several. */
let symbols = [];
/** The symbol asked for (`?symbol=`, or picked); null: the gateway's default. */
let chosenSymbol = new URLSearchParams(location.search).get("symbol");
/** Bumped by a symbol switch: the previous symbol's pending work sees it changed and stops. */
let generation = 0;
const status = { state: "starting", live: false, gapBars: 0, reconnects: 0, lastTs: null, sessionId: null, symbol: null };

const chart = createChart(document.getElementById("chart"), {
  autoSize: true,
  layout: { background: { color: "#101418" }, textColor: "#d8dee4", panes: { separatorColor: "#2d333b" } },
  grid: { vertLines: { color: "#1c2128" }, horzLines: { color: "#1c2128" } },
  timeScale: { timeVisible: true, secondsVisible: true },
});
const candleSeries = chart.addSeries(CandlestickSeries, {
  upColor: COLORS.up,
  downColor: COLORS.down,
  borderVisible: false,
  wickUpColor: COLORS.up,
  wickDownColor: COLORS.down,
});
// Candles in the upper three quarters of the first pane, volume in the lowest fifth, on a scale of its own.
candleSeries.priceScale().applyOptions({ scaleMargins: { top: 0.05, bottom: 0.25 } });
const volumeOptions = { priceScaleId: "volume", priceFormat: { type: "volume" }, lastValueVisible: false, priceLineVisible: false };
const volumeSeries = chart.addSeries(HistogramSeries, { ...volumeOptions, color: COLORS.volume });
const takerBuySeries = chart.addSeries(HistogramSeries, { ...volumeOptions, color: COLORS.takerBuy });
chart.priceScale("volume").applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
// The second pane: prob_up on a fixed 0…1 scale, with the coin-flip line at 0.5.
const predictionSeries = chart.addSeries(
  LineSeries,
  {
    color: COLORS.prediction,
    lineWidth: 2,
    pointMarkersVisible: true,
    pointMarkersRadius: 2,
    priceLineVisible: false,
    priceFormat: { type: "price", precision: 2, minMove: 0.01 },
    autoscaleInfoProvider: () => ({ priceRange: { minValue: 0, maxValue: 1 } }),
  },
  1,
);
predictionSeries.createPriceLine({ price: 0.5, color: "#8b949e", lineWidth: 1, lineStyle: LineStyle.Dashed, axisLabelVisible: false });
chart.panes()[1].setHeight(140);

const candle = (bar) => ({ time: bar.ts / 1000, open: bar.open, high: bar.high, low: bar.low, close: bar.close });
const volumeBar = (bar) => ({ time: bar.ts / 1000, value: bar.volume });
const takerBuyBar = (bar) => ({ time: bar.ts / 1000, value: bar.taker_buy_volume });
const sortedClosed = () => [...closed.values()].sort((a, b) => a.ts - b.ts);
const sortedPredictions = () => [...predictions.values()].sort((a, b) => a.ts - b.ts);
const time = (ts) => new Date(ts).toISOString().slice(11, 19);

/**
 * Pixels of a pane's canvases within a small distance of `color` (#rrggbb): how the e2e test knows a series was
 * painted, not only handed data.
 */
function paintedPixels(paneIndex, color) {
  const pane = chart.panes()[paneIndex]?.getHTMLElement();
  if (!pane) return 0;
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(color.slice(i, i + 2), 16));
  const near = 24;
  let count = 0;
  for (const canvas of pane.querySelectorAll("canvas")) {
    if (canvas.width === 0 || canvas.height === 0) continue;
    const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
    for (let i = 0; i < data.length; i += 4) {
      if (data[i + 3] > 200 && Math.abs(data[i] - r) < near && Math.abs(data[i + 1] - g) < near && Math.abs(data[i + 2] - b) < near) count += 1;
    }
  }
  return count;
}

/** For tests and curious users: what the page holds and draws, and its status. */
window.gapfill = {
  closedBars: sortedClosed,
  status,
  formingBar: () => forming,
  symbols: () => [...symbols],
  /** The predictions of the pane's model version, oldest first, and the one the header shows. */
  predictions: sortedPredictions,
  predictionVersion: () => predictionVersion,
  newestPrediction: () => predictions.get(newestPredictionTs) ?? null,
  /** What a series was handed to draw (`candles`, `volume`, `takerBuy`, `predictions`), and the panes drawn. */
  seriesData: (name) => ({ candles: candleSeries, volume: volumeSeries, takerBuy: takerBuySeries, predictions: predictionSeries })[name].data(),
  panes: () => chart.panes().length,
  paintedPixels,
  colors: COLORS,
};

function drawAll() {
  const bars = sortedClosed();
  if (forming && forming.ts > (status.lastTs ?? -1)) bars.push(forming);
  candleSeries.setData(bars.map(candle));
  volumeSeries.setData(bars.map(volumeBar));
  takerBuySeries.setData(bars.map(takerBuyBar));
}

/** Appends or replaces the newest bar; anything older than the newest drawn one redraws the series. */
let newestDrawnTs = -1;
function draw(bar) {
  if (bar.ts >= newestDrawnTs) {
    candleSeries.update(candle(bar));
    volumeSeries.update(volumeBar(bar));
    takerBuySeries.update(takerBuyBar(bar));
    newestDrawnTs = bar.ts;
  } else {
    drawAll();
  }
}

/** A new model's re-score arrives as a burst of older bars: the line is redrawn once per frame, not per event. */
let predictionsQueued = false;
function schedulePredictionDraw() {
  if (predictionsQueued) return;
  predictionsQueued = true;
  requestAnimationFrame(() => {
    predictionsQueued = false;
    predictionSeries.setData(sortedPredictions().map((p) => ({ time: p.ts / 1000, value: p.prob_up })));
    render();
  });
}

function ago(ms) {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  return `${Math.floor(seconds / 3600)} h ago`;
}

function render() {
  const el = (id) => document.getElementById(id);
  const now = Date.now() + serverClockOffsetMs;
  if (status.live && status.lastTs !== null && now - (status.lastTs + 2 * BAR_MS) > LAGGING_AFTER_MS) {
    status.state = "lagging";
  } else if (status.live && status.state === "lagging") {
    status.state = "live";
  }
  el("symbol").textContent = status.symbol ?? "…";
  if (status.symbol && el("symbol-picker").value !== status.symbol) el("symbol-picker").value = status.symbol;
  el("state").textContent = status.state;
  el("state").dataset.state = status.state;
  el("bars-loaded").textContent = String(closed.size);
  el("gap").textContent = `${status.gapBars} bars (${Math.round((status.gapBars * BAR_MS) / 60_000)} min)`;
  el("last-bar").textContent = status.lastTs === null ? "–" : `${time(status.lastTs)} UTC`;
  el("reconnects").textContent = String(status.reconnects);
  // Its age runs from the close of the bar it was made at: how much of the 15 minutes ahead has already passed.
  const newest = predictions.get(newestPredictionTs);
  el("prediction").textContent = newest
    ? `${newest.prob_up.toFixed(2)} · model ${newest.model_version} · ${ago(now - (newest.ts + BAR_MS))}`
    : "–";
  // Only a prediction the stream delivered says when it was scored; one from the history does not.
  const scored = newest?.scored_at ? `, scored ${newest.scored_at}` : "";
  el("prediction").title = newest ? `made at the bar of ${time(newest.ts)} UTC${scored}` : "";
}
setInterval(render, 1000);

/** Status changes show on the next frame; a replay of thousands of bars still renders once per frame. */
let renderQueued = false;
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    render();
  });
}

function say(text) {
  document.getElementById("message").textContent = text;
}

async function accessToken({ fresh = false } = {}) {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("access_token");
  if (fromHash) {
    sessionStorage.setItem(TOKEN_KEY, fromHash);
    history.replaceState(null, "", location.pathname + location.search);
  }
  if (fresh) sessionStorage.removeItem(TOKEN_KEY);
  const stored = sessionStorage.getItem(TOKEN_KEY);
  if (stored) return stored;
  // Local mode only: the gateway hands out development tokens (404 with Supabase auth).
  const dev = await fetch("/dev/token", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  if (dev.ok) return (await dev.json()).access_token;
  const typed = window.prompt("Supabase access token for this gateway");
  if (!typed) throw new Error("an access token is needed to start a session");
  sessionStorage.setItem(TOKEN_KEY, typed);
  return typed;
}

async function getJson(url, init) {
  const response = await fetch(url, init);
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const error = new Error(body?.error?.message ?? `HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

/** Starts a session for the chosen symbol; returns it without adopting it (a switch may have come meanwhile). */
async function startSession() {
  for (const fresh of [false, true]) {
    const token = await accessToken({ fresh });
    try {
      return await getJson("/session/start", {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(chosenSymbol ? { symbol: chosenSymbol } : {}),
      });
    } catch (error) {
      if (error.status !== 401 || fresh) throw error;
    }
  }
  throw new Error("unreachable");
}

function adoptSession(started) {
  session = started;
  chosenSymbol = started.symbol;
  status.sessionId = started.session_id;
  status.symbol = started.symbol;
}

/** Stops a session the page no longer uses, so its stream slots and KV entry go now; an error is of no consequence. */
async function stopSession(sessionId) {
  try {
    const token = await accessToken();
    await fetch("/session/stop", {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ session_id: sessionId }),
    });
  } catch {
    // It expires by itself.
  }
}

/** The bar fields of a `format=columns` page, one array each (about half the bytes and parse time of rows). */
const BAR_COLUMNS = ["ts", "open", "high", "low", "close", "volume", "quote_volume", "trades", "taker_buy_volume", "first_agg_id", "last_agg_id"];

function barsOfColumns(page) {
  return page.ts.map((_, i) => {
    const bar = { symbol: page.symbol };
    for (const field of BAR_COLUMNS) bar[field] = page[field][i];
    return bar;
  });
}

/** Loads the history; false when a symbol switch made it moot. */
async function loadBootstrap(gen) {
  let url = `${session.bootstrap_url}&format=columns`;
  const base = session.bootstrap_url;
  for (let page = 0; url && page < BOOTSTRAP_PAGES; page += 1) {
    const body = await getJson(url);
    if (gen !== generation) return false;
    for (const bar of barsOfColumns(body)) closed.set(bar.ts, bar);
    url = body.next_cursor ? `${base}&format=columns&cursor=${encodeURIComponent(body.next_cursor)}` : null;
  }
  const newest = sortedClosed().at(-1);
  status.lastTs = newest ? newest.ts : null;
  drawAll();
  newestDrawnTs = status.lastTs ?? -1;
  chart.timeScale().scrollToRealTime();
  say(`loaded ${closed.size} bars of history`);
  return true;
}

function onBar(event) {
  const bar = JSON.parse(event.data);
  if (closed.has(bar.ts)) return;
  closed.set(bar.ts, bar);
  if (!status.live) status.gapBars += 1;
  if (status.lastTs === null || bar.ts > status.lastTs) status.lastTs = bar.ts;
  if (forming && forming.ts <= bar.ts) forming = null;
  draw(bar);
  scheduleRender();
}

function onPartial(event) {
  const bar = JSON.parse(event.data);
  if (status.lastTs !== null && bar.ts <= status.lastTs) return;
  forming = bar;
  draw(bar);
}

/** The pane switches to another model's line: that model's predictions replace every point of the previous one. */
function showPredictionsOf(modelVersion) {
  if (modelVersion === predictionVersion) return;
  predictionVersion = modelVersion;
  predictions.clear();
  newestPredictionTs = null;
}

function holdPrediction(prediction) {
  predictions.set(prediction.ts, prediction);
  if (newestPredictionTs === null || prediction.ts > newestPredictionTs) newestPredictionTs = prediction.ts;
}

/**
 * A prediction of another model than the pane's comes from the model ml-infer uses now (whatever the order of the
 * version names: a rollback promotes an older one): its line replaces the pane's. It is followed by that model's
 * re-score of the recent bars, oldest first, which the line gathers as it comes; the store has none of it yet when the
 * first one arrives (ml-infer publishes, then stores), so asking for its history then would find nothing.
 */
function onPrediction(event) {
  const prediction = JSON.parse(event.data);
  showPredictionsOf(prediction.model_version);
  holdPrediction(prediction);
  schedulePredictionDraw();
}

/**
 * Loads the prediction history from the oldest bar held: the pane's model's when it has one (to fill what a reconnect
 * missed), else the newest model's. Kept only while the pane still shows that model; points held already stay (the
 * stream's carry `scored_at`). A failure leaves the pane to the stream.
 */
async function loadPredictions(gen) {
  const asked = predictionVersion;
  const url = new URL(session.predictions_url);
  if (asked !== null) url.searchParams.set("model_version", asked);
  const oldest = sortedClosed()[0];
  if (oldest) url.searchParams.set("from_ts", String(oldest.ts));
  try {
    for (let part = 0; part < PREDICTION_HISTORY_PARTS; part += 1) {
      const body = await getJson(url);
      if (gen !== generation || body.model_version === null) return;
      if (predictionVersion !== null && predictionVersion !== body.model_version) return;
      showPredictionsOf(body.model_version);
      for (const { ts, prob_up } of body.predictions) {
        if (!predictions.has(ts)) holdPrediction({ symbol: body.symbol, ts, prob_up, model_version: body.model_version });
      }
      schedulePredictionDraw();
      if (body.next_from_ts === null) return;
      url.searchParams.set("model_version", body.model_version);
      url.searchParams.set("from_ts", String(body.next_from_ts));
    }
  } catch (error) {
    if (gen === generation) say(`no prediction history: ${error.message}`);
  }
}

/**
 * Opens the gap stream after the newest bar held. The browser's EventSource resumes by itself after a dropped
 * connection (sending Last-Event-ID: prediction events carry no id, so it is always the last bar's); an `end` or a
 * refused reconnect is handled here.
 */
function openStream(gen, delayMs = 0) {
  stream?.close();
  setTimeout(() => {
    if (gen !== generation) return;
    const url = new URL(session.stream_url);
    url.searchParams.set("partial", "1");
    url.searchParams.set("predictions", "1");
    if (status.lastTs !== null) url.searchParams.set("from_ts", String(status.lastTs));
    stream = new EventSource(url);
    stream.addEventListener("open", () => {
      failures = 0;
      opens += 1;
      if (opens > 1) status.reconnects += 1;
      // A reopened stream sends the newest prediction only: what was published while it was away comes from the store.
      if (!predictionHistoryFresh) void loadPredictions(gen);
      predictionHistoryFresh = false;
      status.state = status.live ? "live" : "catching up";
      say("");
      scheduleRender();
    });
    stream.addEventListener("bar", onBar);
    stream.addEventListener("partial", onPartial);
    stream.addEventListener("prediction", onPrediction);
    stream.addEventListener("live", (event) => {
      const data = JSON.parse(event.data);
      serverClockOffsetMs = data.server_time - Date.now();
      status.live = true;
      status.state = "live";
      scheduleRender();
    });
    stream.addEventListener("end", (event) => {
      const { reason } = JSON.parse(event.data);
      stream.close();
      say(`stream ended (${reason}); reopening`);
      if (reason === "stopped" || reason === "expired") void restartSession(gen);
      else openStream(gen, reason === "shutdown" ? 1000 : 0);
    });
    stream.addEventListener("error", () => {
      if (stream.readyState === EventSource.CLOSED) {
        // The gateway refused the stream (the session is gone, or from_ts is no longer kept): start over, with a
        // growing pause, and from scratch (history included) when a fresh session did not help either.
        failures += 1;
        status.state = "reconnecting";
        say(`the gateway refused the stream; retrying in ${Math.round(retryDelayMs() / 1000)} s`);
        void restartSession(gen, retryDelayMs(), { fromScratch: failures > 1 });
      } else {
        status.state = "reconnecting";
        say("connection lost; reconnecting");
      }
      scheduleRender();
    });
  }, delayMs);
}

/** Forgets every bar and prediction of the symbol shown. */
function clearChart() {
  closed.clear();
  forming = null;
  predictionVersion = null;
  predictions.clear();
  newestPredictionTs = null;
  newestDrawnTs = -1;
  Object.assign(status, { lastTs: null, live: false, gapBars: 0 });
  drawAll();
  schedulePredictionDraw();
}

async function restartSession(gen, delayMs = 0, { fromScratch = false } = {}) {
  await new Promise((resolve) => setTimeout(resolve, delayMs));
  if (gen !== generation) return;
  try {
    const started = await startSession();
    if (gen !== generation) return void stopSession(started.session_id);
    adoptSession(started);
    if (fromScratch) clearChart();
    if (closed.size === 0 && !(await loadBootstrap(gen))) return;
    await loadPredictions(gen);
    if (gen !== generation) return;
    predictionHistoryFresh = true;
    openStream(gen);
  } catch (error) {
    if (gen !== generation) return;
    failures += 1;
    status.state = session ? "reconnecting" : "error";
    say(`${error.message}; retrying in ${Math.round(retryDelayMs() / 1000)} s`);
    void restartSession(gen, retryDelayMs(), { fromScratch });
  }
}

/** A new session for another symbol: its history, stream and predictions replace the current ones. */
function switchSymbol(symbol) {
  if (symbol === status.symbol) return;
  generation += 1;
  stream?.close();
  stream = null;
  if (session) void stopSession(session.session_id);
  session = null;
  chosenSymbol = symbol;
  const url = new URL(location.href);
  url.searchParams.set("symbol", symbol);
  history.replaceState(null, "", url);
  clearChart();
  opens = 0;
  failures = 0;
  Object.assign(status, { state: "starting", reconnects: 0, sessionId: null, symbol });
  say(`switching to ${symbol}`);
  render();
  void restartSession(generation);
}

async function loadSymbols() {
  ({ symbols } = await getJson("/symbols"));
  const picker = document.getElementById("symbol-picker");
  picker.replaceChildren(...symbols.map((symbol) => new Option(symbol, symbol)));
  picker.hidden = symbols.length < 2;
  document.getElementById("symbol").hidden = symbols.length >= 2;
  picker.addEventListener("change", () => switchSymbol(picker.value));
}

// Without the list the page still works, for the symbol asked for or the gateway's default.
loadSymbols().catch((error) => console.error(`no symbol list: ${error.message}`));
await restartSession(generation);
render();
