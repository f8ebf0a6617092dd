// The chart page: session → bootstrap pages → SSE gap stream → live bars, drawn with lightweight-charts.
// Plain ES module served as-is (no build step); the chart library is served from node_modules at /vendor/.
import { CandlestickSeries, createChart } from "/vendor/lightweight-charts.standalone.production.mjs";

const BAR_MS = 15_000;
/** Bootstrap pages loaded at start: 2 × 5,000 bars ≈ 42 h of history. */
const BOOTSTRAP_PAGES = 2;
/** Live but no new closed bar for this long past the expected one: show "lagging". */
const LAGGING_AFTER_MS = BAR_MS + 10_000;
const TOKEN_KEY = "gapfill.access_token";

const closed = new Map();
let forming = null;
let session = null;
let stream = null;
let opens = 0;
/** Consecutive refused streams or failed session starts; reset by a stream that opens. */
let failures = 0;
const retryDelayMs = () => Math.min(30_000, 2000 * 2 ** Math.max(0, failures - 1));
let serverClockOffsetMs = 0;
const status = { state: "starting", live: false, gapBars: 0, reconnects: 0, lastTs: null, sessionId: null, symbol: null };

const chart = createChart(document.getElementById("chart"), {
  autoSize: true,
  layout: { background: { color: "#101418" }, textColor: "#d8dee4" },
  grid: { vertLines: { color: "#1c2128" }, horzLines: { color: "#1c2128" } },
  timeScale: { timeVisible: true, secondsVisible: true },
});
const series = chart.addSeries(CandlestickSeries, {
  upColor: "#26a69a",
  downColor: "#ef5350",
  borderVisible: false,
  wickUpColor: "#26a69a",
  wickDownColor: "#ef5350",
});

const candle = (bar) => ({ time: bar.ts / 1000, open: bar.open, high: bar.high, low: bar.low, close: bar.close });
const sortedClosed = () => [...closed.values()].sort((a, b) => a.ts - b.ts);
const time = (ts) => new Date(ts).toISOString().slice(11, 19);

/** For tests and curious users: the closed bars the page holds, oldest first, and its status. */
window.gapfill = { closedBars: sortedClosed, status, formingBar: () => forming };

function drawAll() {
  const candles = sortedClosed().map(candle);
  if (forming && forming.ts > (status.lastTs ?? -1)) candles.push(candle(forming));
  series.setData(candles);
}

/** Appends or replaces the newest candle; anything older than the newest drawn one redraws the series. */
let newestDrawnTs = -1;
function draw(bar) {
  if (bar.ts >= newestDrawnTs) {
    series.update(candle(bar));
    newestDrawnTs = bar.ts;
  } else {
    drawAll();
  }
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
  el("state").textContent = status.state;
  el("state").dataset.state = status.state;
  el("bars-loaded").textContent = String(closed.size);
  el("gap").textContent = `${status.gapBars} bars (${Math.round((status.gapBars * BAR_MS) / 60_000)} min)`;
  el("last-bar").textContent = status.lastTs === null ? "–" : `${time(status.lastTs)} UTC`;
  el("reconnects").textContent = String(status.reconnects);
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

async function startSession() {
  const symbol = new URLSearchParams(location.search).get("symbol") ?? undefined;
  for (const fresh of [false, true]) {
    const token = await accessToken({ fresh });
    try {
      session = await getJson("/session/start", {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(symbol ? { symbol } : {}),
      });
      status.sessionId = session.session_id;
      status.symbol = session.symbol;
      return session;
    } catch (error) {
      if (error.status !== 401 || fresh) throw error;
    }
  }
  throw new Error("unreachable");
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

async function loadBootstrap() {
  let url = `${session.bootstrap_url}&format=columns`;
  for (let page = 0; url && page < BOOTSTRAP_PAGES; page += 1) {
    const body = await getJson(url);
    for (const bar of barsOfColumns(body)) closed.set(bar.ts, bar);
    url = body.next_cursor ? `${session.bootstrap_url}&format=columns&cursor=${encodeURIComponent(body.next_cursor)}` : null;
  }
  const newest = sortedClosed().at(-1);
  status.lastTs = newest ? newest.ts : null;
  drawAll();
  newestDrawnTs = status.lastTs ?? -1;
  chart.timeScale().scrollToRealTime();
  say(`loaded ${closed.size} bars of history`);
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

/**
 * Opens the gap stream after the newest bar held. The browser's EventSource resumes by itself after a dropped
 * connection (sending Last-Event-ID); an `end` or a refused reconnect is handled here.
 */
function openStream(delayMs = 0) {
  stream?.close();
  setTimeout(() => {
    const url = new URL(session.stream_url);
    url.searchParams.set("partial", "1");
    if (status.lastTs !== null) url.searchParams.set("from_ts", String(status.lastTs));
    stream = new EventSource(url);
    stream.addEventListener("open", () => {
      failures = 0;
      opens += 1;
      if (opens > 1) status.reconnects += 1;
      status.state = status.live ? "live" : "catching up";
      say("");
      scheduleRender();
    });
    stream.addEventListener("bar", onBar);
    stream.addEventListener("partial", onPartial);
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
      if (reason === "stopped" || reason === "expired") void restartSession();
      else openStream(reason === "shutdown" ? 1000 : 0);
    });
    stream.addEventListener("error", () => {
      if (stream.readyState === EventSource.CLOSED) {
        // The gateway refused the stream (the session is gone, or from_ts is no longer kept): start over, with a
        // growing pause, and from scratch (history included) when a fresh session did not help either.
        failures += 1;
        status.state = "reconnecting";
        say(`the gateway refused the stream; retrying in ${Math.round(retryDelayMs() / 1000)} s`);
        void restartSession(retryDelayMs(), { fromScratch: failures > 1 });
      } else {
        status.state = "reconnecting";
        say("connection lost; reconnecting");
      }
      scheduleRender();
    });
  }, delayMs);
}

async function restartSession(delayMs = 0, { fromScratch = false } = {}) {
  await new Promise((resolve) => setTimeout(resolve, delayMs));
  try {
    await startSession();
    if (fromScratch) {
      closed.clear();
      forming = null;
      Object.assign(status, { lastTs: null, live: false, gapBars: 0 });
    }
    if (closed.size === 0) await loadBootstrap();
    openStream();
  } catch (error) {
    failures += 1;
    status.state = "reconnecting";
    say(`${error.message}; retrying in ${Math.round(retryDelayMs() / 1000)} s`);
    void restartSession(retryDelayMs(), { fromScratch });
  }
}

try {
  await startSession();
  await loadBootstrap();
  openStream();
} catch (error) {
  failures += 1;
  status.state = "error";
  say(`${error.message}; retrying in ${Math.round(retryDelayMs() / 1000)} s`);
  void restartSession(retryDelayMs());
} finally {
  render();
}
