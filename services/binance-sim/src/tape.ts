import type { MarketSpec } from "./market.ts";
import { MarketProcess, type TradeSink } from "./market-process.ts";
import { deriveSeed } from "./random.ts";

const BUYER_MAKER = 1;
const AUDIT = 2;

export interface TapeOptions {
  spec: MarketSpec;
  /** The run's seed; the symbol is mixed in, so each symbol has its own tape. */
  seed: number;
  /** Time of the tape's first possible trade (epoch ms): `now - history`. */
  startMs: number;
  /** Expected trades, to size the arrays once (they grow when needed). */
  expectedTrades?: number;
}

/**
 * The aggregate-trade tape of one symbol: a deterministic function of (seed, symbol, start), stored column-wise in
 * typed arrays (a day is ~2M trades; objects would cost ~20× the memory). Index i holds aggregate id
 * `firstAggId + i`; times never decrease; raw trade ids run on without gaps across valid trades.
 */
export class Tape implements TradeSink {
  readonly spec: MarketSpec;
  readonly startMs: number;
  readonly firstAggId: number;
  private readonly process: MarketProcess;
  private nextRawId: number;
  private times: Float64Array;
  private prices: Int32Array;
  private lots: Int32Array;
  private firstRaw: Float64Array;
  private rawCounts: Uint16Array;
  private flags: Uint8Array;
  private size = 0;
  private generated: number;

  constructor({ spec, seed, startMs, expectedTrades = 4096 }: TapeOptions) {
    this.spec = spec;
    this.startMs = startMs;
    const symbolSeed = deriveSeed(seed, spec.symbol);
    // Large ids, like Binance's, so consumers meet numbers beyond 32 bits from the first trade.
    this.firstAggId = 2_000_000_000 + (Math.abs(deriveSeed(seed, spec.symbol, "ids")) % 1_000_000_000);
    this.nextRawId = this.firstAggId * 2 + 17;
    this.process = new MarketProcess(spec, symbolSeed, startMs);
    this.generated = startMs;
    const capacity = Math.max(1024, expectedTrades);
    this.times = new Float64Array(capacity);
    this.prices = new Int32Array(capacity);
    this.lots = new Int32Array(capacity);
    this.firstRaw = new Float64Array(capacity);
    this.rawCounts = new Uint16Array(capacity);
    this.flags = new Uint8Array(capacity);
  }

  /** Number of records generated so far (some may lie ahead of the simulated clock). */
  get length(): number {
    return this.size;
  }

  /** Every record with a time before this is final. */
  get generatedUntil(): number {
    return this.generated;
  }

  /** Generates whole segments until every record up to `timeMs` (inclusive) is final. */
  extendTo(timeMs: number): void {
    while (this.generated <= timeMs) this.generated = this.process.nextSegment(this);
  }

  trade(timeMs: number, priceTicks: number, lots: number, rawTrades: number, buyerIsMaker: boolean): void {
    const i = this.append(timeMs);
    this.prices[i] = priceTicks;
    this.lots[i] = lots;
    this.firstRaw[i] = this.nextRawId;
    this.rawCounts[i] = rawTrades;
    this.flags[i] = buyerIsMaker ? BUYER_MAKER : 0;
    this.nextRawId += rawTrades;
  }

  audit(timeMs: number): void {
    const i = this.append(timeMs);
    this.prices[i] = 0;
    this.lots[i] = 0;
    this.firstRaw[i] = -1;
    this.rawCounts[i] = 0;
    this.flags[i] = AUDIT;
  }

  aggId(i: number): number {
    return this.firstAggId + i;
  }

  /** Index of an aggregate id (may be out of range). */
  indexOfId(aggId: number): number {
    return aggId - this.firstAggId;
  }

  timeAt(i: number): number {
    return this.times[i]!;
  }

  priceTicksAt(i: number): number {
    return this.prices[i]!;
  }

  lotsAt(i: number): number {
    return this.lots[i]!;
  }

  buyerIsMakerAt(i: number): boolean {
    return (this.flags[i]! & BUYER_MAKER) !== 0;
  }

  /** An invalid audit record: price and quantity 0, no raw trades (f = l = -1). */
  isAuditAt(i: number): boolean {
    return (this.flags[i]! & AUDIT) !== 0;
  }

  firstTradeIdAt(i: number): number {
    return this.firstRaw[i]!;
  }

  lastTradeIdAt(i: number): number {
    return this.isAuditAt(i) ? -1 : this.firstRaw[i]! + this.rawCounts[i]! - 1;
  }

  rawTradesAt(i: number): number {
    return this.rawCounts[i]!;
  }

  /** First index whose time is >= timeMs (length when none). */
  firstIndexAtOrAfter(timeMs: number): number {
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.times[mid]! < timeMs) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First index whose time is > timeMs: records [0, result) happened at or before timeMs. */
  firstIndexAfter(timeMs: number): number {
    return this.firstIndexAtOrAfter(Math.floor(timeMs) + 1);
  }

  /** Index of the last valid (non-audit) trade before `index`, or -1. */
  lastValidBefore(index: number): number {
    let i = Math.min(index, this.size) - 1;
    while (i >= 0 && this.isAuditAt(i)) i--;
    return i;
  }

  /** The raw columns of the first `length` records, for byte-level comparison of tapes. */
  columns(length = this.size): ArrayBufferView[] {
    return [this.times, this.prices, this.lots, this.firstRaw, this.rawCounts, this.flags].map((column) => column.subarray(0, length));
  }

  private append(timeMs: number): number {
    if (this.size === this.times.length) this.grow();
    this.times[this.size] = timeMs;
    return this.size++;
  }

  private grow(): void {
    const capacity = this.times.length * 2;
    const grown = <T extends Float64Array | Int32Array | Uint16Array | Uint8Array>(column: T, make: (n: number) => T): T => {
      const next = make(capacity);
      next.set(column);
      return next;
    };
    this.times = grown(this.times, (n) => new Float64Array(n));
    this.prices = grown(this.prices, (n) => new Int32Array(n));
    this.lots = grown(this.lots, (n) => new Int32Array(n));
    this.firstRaw = grown(this.firstRaw, (n) => new Float64Array(n));
    this.rawCounts = grown(this.rawCounts, (n) => new Uint16Array(n));
    this.flags = grown(this.flags, (n) => new Uint8Array(n));
  }
}
