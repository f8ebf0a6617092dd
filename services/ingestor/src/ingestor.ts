/**
 * The ingestor assembled: one REST client (one weight budget per IP), one combined WebSocket for every symbol,
 * and per symbol a feed (sequencer → aggregator) and a publisher. Dependencies come in — NATS connection, clock,
 * logger, metrics registry — so tests run it in-process against the simulator with the simulator's clock.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { jetstream, jetstreamManager, type PubAck } from "@nats-io/jetstream";
import { BAR_MS, barOpenTime, natsNames, type ClosedBar, type IngestorConfig } from "@gapfill/contracts";
import { barsRetentionMs, ConfigurationError, createMetricsRegistry, type Logger, type NatsConnection, type Registry, type ServiceLifecycle } from "@gapfill/kit";
import { BinanceRest, RestRequestError, RestStoppedError } from "./binance/rest.ts";
import { parseAggTradeFrame, type Trade } from "./binance/wire.ts";
import { TradeSocket } from "./binance/ws.ts";
import { MarketClock } from "./market-clock.ts";
import { createIngestorMetrics } from "./metrics.ts";
import { BarPublisher, readLastBar, type StoredBar } from "./publish.ts";
import { SymbolFeed, type FeedTiming } from "./symbol-feed.ts";

/** Knobs that are not configuration for operators but that tests shorten. */
export interface IngestorTuning {
  /** Replace the WebSocket this long after it opened (Binance cuts connections at 24 h). */
  wsMaxConnectionMs: number;
  /** A WebSocket that sent nothing, not even a ping, for this long is presumed dead. */
  wsStaleAfterMs: number;
  /** How long the WebSocket must be down before REST polling starts. */
  fallbackAfterMs: number;
  reorderWaitMs: number;
  klineSettleMs: number;
  /** Least wall time between forming-bar snapshots: above 250 ms so that, with delivery jitter, a subscriber
   * never sees more than 4 in any second. */
  formingIntervalMs: number;
  /** Wall ms between two checks for quiet closes, polling and forming snapshots. */
  tickMs: number;
}

/** Binance refuses an unknown symbol with code -1121: that is the configuration's fault, so restarting cannot help. */
export class UnknownSymbolError extends ConfigurationError {
  override name = "UnknownSymbolError";
}

function explainUnknownSymbol(error: unknown): never {
  if (error instanceof RestRequestError && error.body.includes("-1121")) {
    throw new UnknownSymbolError(`BINANCE_SYMBOL: Binance does not list every symbol asked for (${error.message})`, { cause: error });
  }
  throw error;
}

/** How often the clock offset to Binance is measured again (wall time). */
const CLOCK_CHECK_EVERY_MS = 3_600_000;

const DEFAULT_TUNING: IngestorTuning = {
  wsMaxConnectionMs: (23 * 60 + 50) * 60_000,
  wsStaleAfterMs: 60_000,
  fallbackAfterMs: 3000,
  reorderWaitMs: 200,
  klineSettleMs: 2000,
  formingIntervalMs: 280,
  tickMs: 25,
};

export interface IngestorDeps {
  config: IngestorConfig;
  nc: NatsConnection;
  log: Logger;
  /**
   * The host clock in epoch ms (default Date.now); tests pass the simulator's clock. Market time is this clock
   * corrected by its measured offset from Binance's.
   */
  clock?: () => number;
  registry?: Registry;
  tuning?: Partial<IngestorTuning>;
  /** Observes each bar JetStream acknowledged (benchmarks time bar closes with it). */
  onBarPublished?: (bar: ClosedBar, ack: PubAck) => void;
}

export interface RunningIngestor extends ServiceLifecycle {
  /**
   * `ready`: every symbol has backfilled and follows the live stream.
   * `done`: resolves after stop(); rejects, before or after `ready`, when the ingestor meets what it cannot go on
   * with: a request Binance refuses (an unknown symbol), an answer it cannot read, a price or quantity it cannot
   * hold exactly. The feeds stop taking data at that moment; the caller shuts down.
   */
  registry: Registry;
  /** Open time of the newest bar of the symbol known to be in the stream. */
  lastPublishedTs(symbol: string): number | null;
}

export async function startIngestor(deps: IngestorDeps): Promise<RunningIngestor> {
  const { config, nc, log } = deps;
  const hostClock = deps.clock ?? Date.now;
  const marketClock = new MarketClock(hostClock);
  const clock = marketClock.now;
  const tuning = { ...DEFAULT_TUNING, ...deps.tuning };
  const names = natsNames(config.NATS_NAMESPACE);
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const registry = deps.registry ?? createMetricsRegistry("ingestor");
  const publishers = new Map<string, BarPublisher>();
  const metrics = createIngestorMetrics(registry, function* lags() {
    for (const [symbol, publisher] of publishers) {
      const ts = publisher.lastPublishedTs;
      if (ts !== null) yield [symbol, (clock() - (ts + BAR_MS)) / 1000];
    }
  });

  // One cancellation idiom: aborting `intake` stops taking data (REST, WebSocket, feeds) — on stop() or on a failure;
  // aborting `publishing` afterwards gives up the bars still queued for JetStream.
  const intake = new AbortController();
  const publishing = new AbortController();
  const rest = new BinanceRest({
    signal: intake.signal,
    baseUrl: config.BINANCE_REST_URL,
    log: log.child({ component: "rest" }),
    clock: hostClock,
    onResponse: ({ endpoint, status, usedWeight }) => {
      metrics.restRequests.inc({ endpoint, status: String(status) });
      if (usedWeight !== null) metrics.restWeightUsed.set(usedWeight);
    },
  });

  const timing: FeedTiming = {
    graceMs: config.BAR_CLOSE_GRACE_MS,
    pollIntervalMs: config.GAP_STREAM_SLEEP_SECONDS * 1000,
    fallbackAfterMs: tuning.fallbackAfterMs,
    reorderWaitMs: tuning.reorderWaitMs,
    klineSettleMs: tuning.klineSettleMs,
    formingIntervalMs: tuning.formingIntervalMs,
  };
  const feeds = new Map<string, SymbolFeed>();
  const resumeFrom = new Map<SymbolFeed, StoredBar | null>();
  let failWith!: (error: unknown) => void;
  let endCleanly!: () => void;
  const done = new Promise<void>((resolve, reject) => {
    failWith = reject;
    endCleanly = resolve;
  });
  // Observed by whoever holds `done`; a test that never looks must not see an unhandled rejection.
  done.catch(() => undefined);
  let hasFailed = false;
  const fatal = (error: unknown) => {
    if (hasFailed || (intake.signal.aborted && error instanceof RestStoppedError)) return;
    hasFailed = true;
    intake.abort(error);
    failWith(error);
  };
  let malformedFrames = 0;
  const socket = new TradeSocket({
    signal: intake.signal,
    baseUrl: config.BINANCE_WS_URL,
    symbols: config.BINANCE_SYMBOL,
    log: log.child({ component: "ws" }),
    maxConnectionMs: tuning.wsMaxConnectionMs,
    staleAfterMs: tuning.wsStaleAfterMs,
    onFrame: (raw) => {
      let trade: Trade | null;
      try {
        trade = parseAggTradeFrame(raw);
      } catch (error) {
        return fatal(error);
      }
      const feed = trade ? feeds.get(trade.symbol) : undefined;
      if (trade && feed) return feed.onSocketTrade(trade);
      // A lost trade frame shows up as an id jump and is repaired from REST; say so now and then, not per frame.
      if (malformedFrames++ % 1000 === 0) log.warn({ frame: raw.slice(0, 200), malformedFrames }, "ignored a WebSocket frame");
    },
    onOpen: ({ reconnect }) => {
      if (!reconnect) return;
      metrics.wsReconnects.inc();
      for (const feed of feeds.values()) feed.onSocketOpen();
    },
  });

  // No point backfilling bars older than the stream keeps.
  const retentionMs = await barsRetentionMs(nc, names);
  const backfillMs = Math.min(config.INGEST_BACKFILL_HOURS * 3_600_000, retentionMs === 0 ? Infinity : retentionMs);
  for (const symbol of config.BINANCE_SYMBOL) {
    const last = await readLastBar(jsm, names, symbol);
    const publisher = new BarPublisher(
      {
        js,
        jsm,
        names,
        symbol,
        log: log.child({ component: "publish", symbol }),
        onPublished: (bar, ack) => {
          metrics.barsPublished.inc({ symbol });
          deps.onBarPublished?.(bar, ack);
        },
        onConflict: () => metrics.publishConflicts.inc({ symbol }),
        signal: publishing.signal,
      },
      last,
    );
    publishers.set(symbol, publisher);
    const feed = new SymbolFeed({
      symbol,
      rest,
      publisher,
      clock,
      log,
      metrics,
      timing,
      socketDownForMs: () => socket.downForMs(),
      publishForming: (bar) => nc.publish(names.subjects.live(symbol), JSON.stringify(bar)),
      onFatal: fatal,
      signal: intake.signal,
    });
    feeds.set(symbol, feed);
    resumeFrom.set(feed, last);
  }

  /** Measures the host clock's offset from Binance's and corrects market time by it. */
  const checkClock = async () => {
    const sample = await rest.serverTime();
    const offsetMs = marketClock.correct(sample);
    metrics.clockOffset.set(offsetMs / 1000);
    const fields = { offsetMs, roundTripMs: sample.receivedAt - sample.sentAt };
    if (Math.abs(offsetMs) > config.BAR_CLOSE_GRACE_MS / 2) {
      log.warn(fields, "the host clock is off Binance's by more than half BAR_CLOSE_GRACE_MS: market time follows Binance's; fix the host's time sync");
    } else {
      log.info(fields, "clock offset to Binance");
    }
  };
  let clockChecks: NodeJS.Timeout | null = null;

  const started = (async () => {
    // First the budget, which also checks every symbol: an unknown one ends the start here, with Binance's answer.
    log.info(await rest.learnWeightLimit(config.BINANCE_SYMBOL).catch(explainUnknownSymbol), "REST weight budget");
    // Then the clock, before any bar boundary is worked out.
    await checkClock();
    if (intake.signal.aborted) return;
    clockChecks = setInterval(() => checkClock().catch(fatal), CLOCK_CHECK_EVERY_MS);
    // The socket opens before the backfill, so live trades are held (by id) while history is being built.
    socket.start();
    const freshStartTs = barOpenTime(clock() - backfillMs);
    await Promise.all([...resumeFrom].map(([feed, last]) => feed.run(last, freshStartTs)));
  })();
  started.catch(fatal);
  // A feed stopped by a failure elsewhere ends its backfill quietly: `ready` must not then claim success.
  const ready = Promise.race([started, done]);
  ready.catch(() => undefined);
  const ticker = setInterval(() => {
    for (const feed of feeds.values()) feed.tick();
  }, tuning.tickMs);

  let stopped: Promise<void> | null = null;
  return {
    ready,
    done,
    registry,
    lastPublishedTs: (symbol) => publishers.get(symbol)?.lastPublishedTs ?? null,
    stop: () =>
      (stopped ??= (async () => {
        clearInterval(ticker);
        if (clockChecks) clearInterval(clockChecks);
        intake.abort(new Error("stopping"));
        await socket.closed;
        // Bars already closed are worth a few seconds; a NATS outage must not hold the shutdown.
        await Promise.race([Promise.all([...publishers.values()].map((p) => p.drained())), sleep(5000, undefined, { ref: false })]);
        publishing.abort(new Error("stopping"));
        await ready.catch(() => undefined);
        endCleanly();
        log.info("ingestor stopped");
      })()),
  };
}
