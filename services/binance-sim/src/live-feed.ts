import type { Logger } from "@gapfill/kit";
import type { FaultSwitch } from "./faults.ts";
import { aggTradeEventJson } from "./format.ts";
import { buildKline, klineEventJson, klineOpenTime, type EmptyKlines } from "./klines.ts";
import type { SimCounters } from "./stats.ts";
import type { MarketStream } from "./streams.ts";
import type { Tape } from "./tape.ts";
import type { WsHub } from "./ws-hub.ts";

/** Longest wall-clock sleep between two looks at the clock (it also bounds how late a drop instant fires). */
const MAX_SLEEP_MS = 100;
/** Binance pushes the open kline of intervals longer than 1 s every 2 s. */
const KLINE_UPDATE_MS = 2_000;

type KlineStream = Extract<MarketStream, { kind: "kline" }>;

interface KlineTracker {
  stream: KlineStream;
  nextOpen: number;
  previousClose: number | null;
  lastUpdate: number;
}

export interface LiveFeedOptions {
  tapes: ReadonlyMap<string, Tape>;
  clock: () => number;
  speed: number;
  hub: WsHub;
  faults: FaultSwitch;
  counters: SimCounters;
  emptyKlines: EmptyKlines;
  log: Logger;
}

/**
 * Plays the tape out in simulated time: each trade goes to `<symbol>@aggTrade` listeners once the clock passes its
 * time (unless a withhold fault keeps it off the wire), each kline to `<symbol>@kline_<interval>` listeners when it
 * closes, and `wsDropAt` instants cut every connection as the clock passes them.
 */
export class LiveFeed {
  private readonly nextTrade = new Map<string, number>();
  private readonly klines = new Map<string, KlineTracker>();
  private dropInstants: number[] = [];
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  private readonly options: LiveFeedOptions;

  constructor(options: LiveFeedOptions) {
    this.options = options;
    const now = options.clock();
    // Trades up to the start are history (REST only); the stream carries what happens from now on.
    for (const [symbol, tape] of options.tapes) this.nextTrade.set(symbol, tape.firstIndexAfter(now));
    options.faults.onChange((faults) => this.armDropInstants(faults.wsDropAt));
    this.armDropInstants(options.faults.current.wsDropAt);
  }

  start(): void {
    this.wake();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** Instants already passed when they are set never fire. */
  private armDropInstants(instants: number[]): void {
    const now = this.options.clock();
    this.dropInstants = instants.filter((instant) => instant > now).sort((a, b) => a - b);
  }

  private wake(): void {
    if (this.stopped) return;
    const now = this.options.clock();
    let nextDue = Infinity;
    try {
      // A drop instant cuts the connections after the events up to it and before any later one.
      while (this.dropInstants.length > 0 && this.dropInstants[0]! <= now) {
        const instant = this.dropInstants.shift()!;
        this.play(instant);
        this.options.hub.dropAll();
      }
      nextDue = Math.min(this.play(now), this.dropInstants[0] ?? Infinity);
    } catch (error) {
      this.options.log.error({ err: error }, "live feed step failed");
    }
    const speed = this.options.speed;
    const sleep = speed > 0 && Number.isFinite(nextDue) ? (nextDue - now) / speed : MAX_SLEEP_MS;
    this.timer = setTimeout(() => this.wake(), Math.min(MAX_SLEEP_MS, Math.max(1, Math.ceil(sleep))));
  }

  /** Sends every event due by `now`; returns when the next one is due. */
  private play(now: number): number {
    let nextDue = Infinity;
    for (const [symbol, tape] of this.options.tapes) nextDue = Math.min(nextDue, this.playTrades(symbol, tape, now));
    for (const stream of this.options.hub.activeStreams()) {
      if (stream.kind === "kline") nextDue = Math.min(nextDue, this.playKline(stream, now));
    }
    this.forgetIdleKlines();
    return nextDue;
  }

  /** Sends the trades of `symbol` whose time has come; returns when the next one is due. */
  private playTrades(symbol: string, tape: Tape, now: number): number {
    const { hub, faults, counters } = this.options;
    tape.extendTo(now + 1_000);
    const stream = `${symbol.toLowerCase()}@aggTrade`;
    const listened = hub.hasListeners(stream);
    const due = tape.firstIndexAfter(now);
    let i = this.nextTrade.get(symbol)!;
    for (; i < due; i++) {
      const aggId = tape.aggId(i);
      if (faults.withholds(aggId)) counters.countWithheld(aggId);
      else if (listened) hub.publish(stream, aggTradeEventJson(tape, i, now));
    }
    this.nextTrade.set(symbol, i);
    return i < tape.length ? tape.timeAt(i) : tape.generatedUntil;
  }

  /** Sends the klines of one stream that closed by `now` (and, past 1 s intervals, the open one every 2 s). */
  private playKline(stream: KlineStream, now: number): number {
    const { hub, emptyKlines } = this.options;
    const tape = this.options.tapes.get(stream.symbol)!;
    const { intervalMs } = stream;
    let tracker = this.klines.get(stream.name);
    if (!tracker) {
      const nextOpen = klineOpenTime(now, intervalMs);
      const before = tape.lastValidBefore(tape.firstIndexAtOrAfter(nextOpen));
      tracker = { stream, nextOpen, previousClose: before >= 0 ? tape.priceTicksAt(before) : null, lastUpdate: now };
      this.klines.set(stream.name, tracker);
    }
    while (tracker.nextOpen + intervalMs <= now) {
      const built = this.kline(tape, tracker, tracker.nextOpen + intervalMs);
      if (built && (built.trades > 0 || emptyKlines === "include")) {
        hub.publish(stream.name, klineEventJson(stream.symbol, stream.interval, built.kline, true, now));
        tracker.previousClose = built.closeTicks;
      }
      tracker.nextOpen += intervalMs;
      tracker.lastUpdate = now;
    }
    if (intervalMs > 1_000 && now - tracker.lastUpdate >= KLINE_UPDATE_MS) {
      const built = this.kline(tape, tracker, now + 1);
      if (built && (built.trades > 0 || emptyKlines === "include")) {
        hub.publish(stream.name, klineEventJson(stream.symbol, stream.interval, built.kline, false, now));
      }
      tracker.lastUpdate = now;
    }
    const nextClose = tracker.nextOpen + intervalMs;
    return intervalMs > 1_000 ? Math.min(nextClose, tracker.lastUpdate + KLINE_UPDATE_MS) : nextClose;
  }

  /** The tracker's open kline with the trades before `until`. */
  private kline(tape: Tape, tracker: KlineTracker, until: number) {
    const from = tape.firstIndexAtOrAfter(tracker.nextOpen);
    const to = tape.firstIndexAtOrAfter(until);
    return buildKline(tape, tracker.nextOpen, tracker.stream.intervalMs, from, to, tracker.previousClose);
  }

  private forgetIdleKlines(): void {
    const active = new Set(this.options.hub.activeStreams().map((stream) => stream.name));
    for (const name of this.klines.keys()) if (!active.has(name)) this.klines.delete(name);
  }
}
