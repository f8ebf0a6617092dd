import { BAR_MS } from "@gapfill/contracts";
import type { MarketSpec } from "./market.ts";
import { seededRandom, type Random } from "./random.ts";

/** Where the process writes: one aggregate trade, or one invalid audit record (p=0, q=0, f=l=-1). */
export interface TradeSink {
  trade(timeMs: number, priceTicks: number, lots: number, rawTrades: number, buyerIsMaker: boolean): void;
  audit(timeMs: number): void;
}

/** Mean time between invalid audit records: a few an hour, as Binance's tape has. */
const AUDIT_MEAN_MS = 10 * 60_000;
/** Chance, at each 15 s boundary crossed while trading, of a trade exactly at `k·15000 − 1` and at `k·15000`. */
const BOUNDARY_TRADE_CHANCE = 0.25;
/**
 * Price steps per trade, in units of the symbol's `stepTicks`: a random walk while trading normally, a one-sided run
 * in a burst. Chosen so a BTCUSDT day looks like one on a chart rather than flat lines between jumps: over a day of
 * tape the median 15 s bar spans about $23 and the p99 about $140 (tape.test.ts checks the bounds).
 */
const WALK_STEP = 4;
const BURST_STEP = 0.8;

type SegmentKind = "active" | "burst" | "quiet";

/**
 * The market as a sequence of segments: active trading (Poisson arrivals around 20/s), bursts (hundreds of trades
 * in about a second, one-sided and trending) and quiet stretches (15.5–45 s without a trade). Each call to
 * `nextSegment` writes one whole segment and returns its end, so the tape is the same however far ahead, or in how
 * many steps, it is generated.
 */
export class MarketProcess {
  private readonly random: Random;
  private segmentStart: number;
  private nextKind: SegmentKind = "active";
  private priceTicks: number;
  private lastTradeMs = -Infinity;
  private nextAuditAt: number;

  private readonly spec: MarketSpec;

  constructor(
    spec: MarketSpec,
    seed: number,
    startMs: number,
  ) {
    this.spec = spec;
    this.random = seededRandom(seed);
    this.segmentStart = startMs;
    const reference = spec.referencePrice * 10 ** spec.priceDecimals;
    this.priceTicks = Math.round(reference * (0.9 + 0.2 * this.random.uniform()));
    this.nextAuditAt = startMs + this.random.exponential(AUDIT_MEAN_MS);
  }

  /** Writes the next segment into `sink`; returns its end (exclusive): every trade before it is final. */
  nextSegment(sink: TradeSink): number {
    const start = this.segmentStart;
    const random = this.random;
    let end: number;
    switch (this.nextKind) {
      case "quiet":
        end = start + random.integer(15_500, 45_000);
        this.nextKind = "active";
        break;
      case "burst": {
        end = start + random.integer(400, 1_500);
        this.trade(sink, start, end, random.integer(250, 700) / 1000, random.chance(0.5) ? 1 : -1);
        this.nextKind = "active";
        break;
      }
      case "active": {
        end = start + Math.round(Math.min(240_000, Math.max(3_000, random.exponential(40_000))));
        this.trade(sink, start, end, 0.02 * Math.exp(0.4 * random.normal()), 0);
        const pick = random.uniform();
        this.nextKind = pick < 0.3 ? "burst" : pick < 0.42 ? "quiet" : "active";
        break;
      }
    }
    this.segmentStart = end;
    return end;
  }

  /** Poisson arrivals at `ratePerMs` in [start, end); `direction` ±1 makes a one-sided trending burst. */
  private trade(sink: TradeSink, start: number, end: number, ratePerMs: number, direction: number): void {
    const random = this.random;
    let t = start;
    for (;;) {
      t += random.exponential(1 / ratePerMs);
      if (t >= end) return;
      const timeMs = Math.floor(t);
      this.boundaryTrades(sink, start, timeMs);
      if (timeMs >= this.nextAuditAt) {
        sink.audit(timeMs);
        this.nextAuditAt = timeMs + random.exponential(AUDIT_MEAN_MS);
      }
      this.emit(sink, timeMs, direction);
    }
  }

  /** Now and then a trade exactly on the last millisecond of a bar and on the first of the next. */
  private boundaryTrades(sink: TradeSink, segmentStart: number, timeMs: number): void {
    const boundary = Math.floor(timeMs / BAR_MS) * BAR_MS;
    if (boundary - 1 < segmentStart || this.lastTradeMs >= boundary - 1) return;
    if (this.random.chance(BOUNDARY_TRADE_CHANCE)) this.emit(sink, boundary - 1, 0);
    if (this.random.chance(BOUNDARY_TRADE_CHANCE)) this.emit(sink, boundary, 0);
  }

  private emit(sink: TradeSink, timeMs: number, direction: number): void {
    const random = this.random;
    const { stepTicks, medianLots } = this.spec;
    if (direction !== 0 && random.chance(0.8)) {
      this.priceTicks += direction * Math.abs(Math.round(random.normal() * stepTicks * BURST_STEP));
    } else if (random.chance(0.55)) {
      this.priceTicks += Math.round(random.normal() * stepTicks * WALK_STEP);
    }
    if (this.priceTicks < 1) this.priceTicks = 1;
    const sizeBoost = direction === 0 ? 1 : 1.5;
    const lots = Math.min(medianLots * 2000, Math.max(1, Math.round(medianLots * sizeBoost * Math.exp(1.5 * random.normal()))));
    const rawTrades = Math.min(200, 1 + Math.floor(random.exponential(0.3 + 0.4 * Math.log10(1 + lots / medianLots))));
    const buyerIsMaker = direction === 0 ? random.chance(0.5) : random.chance(0.9) === direction < 0;
    sink.trade(timeMs, this.priceTicks, lots, rawTrades, buyerIsMaker);
    this.lastTradeMs = timeMs;
  }
}
