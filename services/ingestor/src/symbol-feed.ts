/**
 * One symbol's path from trades to published bars. Trades from the WebSocket and from REST all pass through the
 * id sequencer (continuity.ts) into the aggregator (aggregate.ts); closed bars go to the publisher (publish.ts).
 *
 * REST "catch-ups by id" (from the last id passed on) fill every kind of hole: an id jump on the WebSocket, the
 * range missed while reconnecting, and the tail of a quiet bar. A catch-up page shorter than the page limit holds
 * every trade that existed when it was asked for, so it also proves that no trade before the time of the request
 * (less the grace period, for REST visibility) is missing: bars ending by then close. That is how a quiet bar
 * closes after BAR_CLOSE_GRACE_MS without trusting that the WebSocket withheld nothing, and how bars keep closing
 * while the WebSocket is down (catch-ups every GAP_STREAM_SLEEP_SECONDS).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { BAR_MS, type FormingBar } from "@gapfill/contracts";
import { backoffDelayMs, type Logger } from "@gapfill/kit";
import { BarAggregator } from "./aggregate.ts";
import { backfillFromKlines, findHandoverTrades } from "./backfill.ts";
import { PAGE_LIMIT, RestStoppedError, type BinanceRest } from "./binance/rest.ts";
import type { Trade } from "./binance/wire.ts";
import { TradeSequencer } from "./continuity.ts";
import { scaledFromNumber } from "./exact.ts";
import type { IngestorMetrics } from "./metrics.ts";
import type { BarPublisher, StoredBar } from "./publish.ts";

export type CatchUpReason = "join" | "gap" | "reconnect" | "quiet" | "poll";

export interface FeedTiming {
  /** BAR_CLOSE_GRACE_MS: how long past a quiet bar's end (clock time) before a catch-up closes it. */
  graceMs: number;
  /** GAP_STREAM_SLEEP_SECONDS in ms: REST polling interval (wall time) while the WebSocket is down. */
  pollIntervalMs: number;
  /** How long (wall time) the WebSocket must be down before polling starts. */
  fallbackAfterMs: number;
  /** How long (wall time) an id hole may wait for a reordered frame before it is repaired from REST. */
  reorderWaitMs: number;
  /** How long (clock time) after a second ends its 1 s kline counts as final. */
  klineSettleMs: number;
  /** Least wall time between two forming-bar snapshots. */
  formingIntervalMs: number;
}

export interface SymbolFeedDeps {
  symbol: string;
  rest: BinanceRest;
  publisher: BarPublisher;
  clock: () => number;
  log: Logger;
  metrics: IngestorMetrics;
  timing: FeedTiming;
  /** Wall ms the WebSocket has been down, 0 while it is up. */
  socketDownForMs: () => number;
  publishForming: (bar: FormingBar) => void;
  /** A live catch-up met an error REST does not retry (a refused request, an answer we cannot read): the feed cannot go on. */
  onFatal: (error: unknown) => void;
  /** Aborted when the ingestor stops or fails: the feed takes no more data and its waits end. */
  signal: AbortSignal;
}

type FeedState = "starting" | "backfilling" | "live" | "stopped";

/**
 * A trade dated more than this past market time is dropped: folding it in would close every bar up to it. Binance
 * stamps trades on its own clock, which market time follows, so only a bad record is this far ahead.
 */
const FUTURE_TRADE_MARGIN_MS = 5000;

/** Longest wait between two asks while REST lists less than the WebSocket sent. */
const REST_BEHIND_MAX_WAIT_MS = 5000;
/** REST is normally behind by well under this (wall time); past it, the wait is logged, then once a minute. */
const REST_BEHIND_WARN_AFTER_MS = 5000;
const REST_BEHIND_WARN_EVERY_MS = 60_000;

export class SymbolFeed {
  private state: FeedState = "starting";
  private readonly sequencer = new TradeSequencer();
  private aggregator: BarAggregator | null = null;
  private catchUpRunning = false;
  /** A catch-up asked for while one was running: it runs next. */
  private catchUpAgain: CatchUpReason | null = null;
  private holeTimer: NodeJS.Timeout | null = null;
  private lastPollAt = 0;
  private lastFormingAt = 0;
  private lastFormingRevision = -1;
  private readonly log: Logger;
  private readonly wsTrades;
  private readonly restTrades;
  private readonly duplicates;
  private readonly futureTrades;

  private readonly deps: SymbolFeedDeps;

  constructor(deps: SymbolFeedDeps) {
    this.deps = deps;
    this.log = deps.log.child({ symbol: deps.symbol });
    this.wsTrades = deps.metrics.tradesIn.labels(deps.symbol, "ws");
    this.restTrades = deps.metrics.tradesIn.labels(deps.symbol, "rest");
    this.duplicates = deps.metrics.tradesDuplicate.labels(deps.symbol);
    this.futureTrades = deps.metrics.tradesFuture.labels(deps.symbol);
    deps.signal.addEventListener("abort", () => this.stopTakingData(), { once: true });
  }

  private get stopped(): boolean {
    return this.deps.signal.aborted;
  }

  /**
   * Resumes after the stream's last bar (or, with none, at `freshStartTs`), backfills closed history and joins the
   * live stream. Resolves once the feed is live.
   */
  async run(last: StoredBar | null, freshStartTs: number): Promise<void> {
    const { symbol, rest, clock, timing } = this.deps;
    const startTs = last ? last.bar.ts + BAR_MS : freshStartTs;
    const aggregator = new BarAggregator(symbol, startTs, last ? scaledFromNumber(last.bar.close) : null);
    this.aggregator = aggregator;
    this.state = "backfilling";
    this.log.info({ from: new Date(startTs).toISOString(), resumed: last !== null }, "backfill starting");
    const backfillDeps = {
      symbol,
      rest,
      clock,
      log: this.log,
      settleMs: timing.klineSettleMs,
      isStopped: () => this.stopped,
    };
    try {
      const handoverTs = await backfillFromKlines(backfillDeps, aggregator, (bars) => this.deps.publisher.enqueue(bars));
      const handover = await findHandoverTrades(backfillDeps, handoverTs);
      if (this.stopped) return;
      this.sequencer.anchorAt(handover.firstId);
      this.restTrades.inc(handover.trades.length);
      for (const trade of handover.trades) this.offer(trade);
      const lastId = handover.trades.at(-1)?.id;
      this.fold(lastId === undefined ? this.sequencer.drain() : this.sequencer.settleThrough(lastId));
      this.state = "live";
      this.log.info({ handover: new Date(handoverTs).toISOString(), firstId: handover.firstId }, "backfill done; following the live stream");
      this.requestCatchUp("join");
    } catch (error) {
      if (error instanceof RestStoppedError && this.stopped) return;
      throw error;
    }
  }

  /** A trade from the WebSocket. */
  onSocketTrade(trade: Trade): void {
    this.wsTrades.inc();
    if (this.stopped) return;
    if (this.offer(trade) !== "new" || this.state !== "live") return;
    this.fold(this.sequencer.drain());
    if (this.sequencer.hole()) this.scheduleHoleRepair();
  }

  /** The WebSocket (re)connected: fetch what was missed while it was down. */
  onSocketOpen(): void {
    this.requestCatchUp("reconnect");
  }

  /** Called often (every few tens of ms) by the ingestor: quiet closes, polling while the socket is down, snapshots. */
  tick(): void {
    if (this.state !== "live" || !this.aggregator) return;
    const { clock, timing, socketDownForMs } = this.deps;
    const wallNow = Date.now();
    if (clock() >= this.aggregator.formingTs + BAR_MS + timing.graceMs) this.requestCatchUp("quiet");
    if (socketDownForMs() >= timing.fallbackAfterMs && wallNow - this.lastPollAt >= timing.pollIntervalMs) {
      this.lastPollAt = wallNow;
      this.requestCatchUp("poll");
    }
    if (wallNow - this.lastFormingAt >= timing.formingIntervalMs) {
      const revision = this.aggregator.formingRevision;
      if (revision !== this.lastFormingRevision) {
        const forming = this.aggregator.forming();
        if (forming) this.deps.publishForming(forming);
        this.lastFormingRevision = revision;
        this.lastFormingAt = wallNow;
      }
    }
  }

  /** The ingestor's signal was aborted (a stop, or a failure elsewhere): take no more data. */
  private stopTakingData(): void {
    this.state = "stopped";
    if (this.holeTimer) clearTimeout(this.holeTimer);
  }

  private offer(trade: Trade): "new" | "duplicate" | "overflow" {
    const result = this.sequencer.offer(trade);
    if (result === "duplicate") this.duplicates.inc();
    return result;
  }

  /** Trades in sequence → aggregator → closed bars → publisher. */
  private fold(trades: readonly Trade[]): void {
    if (trades.length === 0) return;
    const aggregator = this.aggregator!;
    const horizon = this.deps.clock() + FUTURE_TRADE_MARGIN_MS;
    for (const trade of trades) {
      if (trade.time > horizon) {
        this.futureTrades.inc();
        this.log.error(
          { id: trade.id, time: trade.time, marketTime: horizon - FUTURE_TRADE_MARGIN_MS },
          "trade dated more than 5 s past market time: dropped (it is missing from its bar)",
        );
        continue;
      }
      if (aggregator.addTrade(trade) === "late") {
        this.log.error(
          { id: trade.id, time: trade.time, formingTs: aggregator.formingTs },
          "trade arrived for a bar already closed; it is missing from that bar",
        );
      }
    }
    this.deps.publisher.enqueue(aggregator.takeClosed());
  }

  private scheduleHoleRepair(): void {
    if (this.holeTimer) return;
    // Give a reordered frame a moment to arrive before asking REST.
    this.holeTimer = setTimeout(() => {
      this.holeTimer = null;
      if (this.sequencer.hole()) this.requestCatchUp("gap");
    }, this.deps.timing.reorderWaitMs);
  }

  private requestCatchUp(reason: CatchUpReason): void {
    if (this.state !== "live") return;
    if (this.catchUpRunning) {
      if (reason !== "quiet" && reason !== "poll") this.catchUpAgain = reason;
      return;
    }
    this.catchUpRunning = true;
    void this.runCatchUps(reason).finally(() => {
      this.catchUpRunning = false;
    });
  }

  private async runCatchUps(first: CatchUpReason): Promise<void> {
    let reason: CatchUpReason | null = first;
    try {
      while (reason !== null && this.state === "live") {
        this.catchUpAgain = null;
        await this.catchUpOnce(reason);
        reason = this.sequencer.hole() ? "gap" : this.catchUpAgain;
      }
    } catch (error) {
      // REST has already retried whatever may pass on its own.
      if (!(error instanceof RestStoppedError) && this.state === "live") this.deps.onFatal(error);
    }
  }

  /**
   * Pages REST aggTrades by id from the last id passed on until a short page: every trade that existed when the
   * last page was asked for is then folded in, and bars that ended before that moment (less the grace) close.
   *
   * Ids in a hole are stepped over only when a page lists an id past them: that is proof they do not exist. A
   * short page that ends before a held trade proves nothing (REST lists it later than the WebSocket sent it), so
   * the catch-up asks again, backing off up to REST_BEHIND_MAX_WAIT_MS, for as long as it takes.
   */
  private async catchUpOnce(reason: CatchUpReason): Promise<void> {
    const { symbol, rest, clock, metrics, timing } = this.deps;
    const sequencer = this.sequencer;
    const hole = sequencer.hole();
    metrics.repairs.inc({ symbol, reason });
    let fetched = 0;
    let behindSince: number | null = null;
    let lastBehindWarning = 0;
    for (let restBehind = 0; this.state === "live"; ) {
      const fromId = sequencer.lastPassedId! + 1;
      const askedAt = clock();
      const page = await rest.aggTrades({ symbol, fromId });
      this.restTrades.inc(page.length);
      fetched += page.length;
      for (const trade of page) this.offer(trade);
      const lastId = page.at(-1)?.id;
      this.fold(lastId === undefined ? sequencer.drain() : sequencer.settleThrough(lastId));
      if (page.length >= PAGE_LIMIT) continue;
      const stillMissing = sequencer.hole();
      if (stillMissing) {
        // The WebSocket delivered a trade REST does not list yet: wait for REST, however long it takes.
        const wallNow = Date.now();
        behindSince ??= wallNow;
        if (wallNow - behindSince >= REST_BEHIND_WARN_AFTER_MS && wallNow - lastBehindWarning >= REST_BEHIND_WARN_EVERY_MS) {
          lastBehindWarning = wallNow;
          this.log.warn(
            { ...stillMissing, behindForMs: wallNow - behindSince },
            "REST does not list ids before a trade the WebSocket sent: waiting for it (bars after the hole wait too)",
          );
        }
        const waitMs = backoffDelayMs(++restBehind, { initialMs: 100, maxMs: REST_BEHIND_MAX_WAIT_MS });
        await sleep(waitMs, undefined, { signal: this.deps.signal }).catch(() => undefined);
        continue;
      }
      this.aggregator!.closeThrough(askedAt - timing.graceMs);
      this.deps.publisher.enqueue(this.aggregator!.takeClosed());
      if (hole || reason === "reconnect" || reason === "join") {
        this.log.info({ reason, hole, fetched }, "caught up from REST by id");
      }
      return;
    }
  }
}
