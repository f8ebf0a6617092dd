/**
 * The bar aggregator: a pure, synchronous transform with no timers, sockets or NATS. Feed it trades (in id order)
 * or closed 1 s klines (in time order) and tell it how far time is known to have advanced; read closed 15 s bars.
 *
 * Time rules: a bar's `ts` is its open time and covers [ts, ts + 15 000). The first record at or past a
 * bar's end closes it at once; `closeThrough(t)` closes every bar that ends at or before `t` (the caller knows all
 * data before `t` has arrived). An interval without trades becomes a flat bar at the previous close. Until the
 * first trade is seen there is no previous close, so a series that starts in a quiet interval begins at the first
 * bar that has a trade.
 */
import { BAR_MS, barOpenTime, flatBar, type ClosedBar, type FormingBar } from "@gapfill/contracts";
import { ExactQuoteSum, ExactVolumeSum, renderScaled } from "./exact.ts";
import type { Kline, Trade } from "./binance/wire.ts";

/** What happened to one trade. `late` means it belongs to a bar already closed (the caller's kline handover is wrong). */
export type FoldResult = "added" | "audit" | "late";

const NO_BARS: readonly ClosedBar[] = Object.freeze([]);

export class BarAggregator {
  private ts: number;
  private previousClose: number | null;
  private closed: ClosedBar[] = [];
  // The forming bar: prices and volumes in 1e-8 units.
  private open = 0;
  private high = 0;
  private low = 0;
  private close = 0;
  private volume = new ExactVolumeSum();
  private takerBuyVolume = new ExactVolumeSum();
  private trades = 0;
  private quote = new ExactQuoteSum();
  private firstAggId: number | null = null;
  private lastAggId: number | null = null;
  private hasData = false;
  /** A kline went into the bar, so its aggregate ids are unknown and published as null. */
  private fromKlines = false;
  private asOf: number | null = null;
  /** Bumped on every change to the forming bar, so a publisher can skip unchanged snapshots. */
  private revision = 0;

  /**
   * @param startTs open time of the first bar to build (a multiple of 15 000)
   * @param previousClose close of the bar before it in 1e-8 units, or null when there is none
   */
  readonly symbol: string;

  constructor(
    symbol: string,
    startTs: number,
    previousClose: number | null,
  ) {
    this.symbol = symbol;
    if (startTs % BAR_MS !== 0) throw new Error(`startTs must be a multiple of ${BAR_MS}, got ${startTs}`);
    this.ts = startTs;
    this.previousClose = previousClose;
  }

  /** Open time of the bar being formed. */
  get formingTs(): number {
    return this.ts;
  }

  get formingRevision(): number {
    return this.revision;
  }

  addTrade(trade: Trade): FoldResult {
    if (trade.audit) return "audit";
    if (trade.time < this.ts) return "late";
    if (trade.time >= this.ts + BAR_MS) this.closeThrough(barOpenTime(trade.time));
    const { price, quantity } = trade;
    this.foldPrice(price, price, price, price);
    this.volume.add(quantity);
    if (!trade.buyerIsMaker) this.takerBuyVolume.add(quantity);
    this.trades += trade.lastTradeId - trade.firstTradeId + 1;
    this.quote.addProduct(price, quantity);
    this.firstAggId ??= trade.id;
    this.lastAggId = trade.id;
    this.asOf = trade.time;
    return "added";
  }

  /**
   * A closed 1 s kline at or after the forming bar (the backfill asks for no other). Seconds without trades
   * (whether sent as empty klines or omitted) change nothing.
   */
  addKline(kline: Kline): void {
    if (kline.trades === 0) return;
    if (kline.openTime < this.ts) throw new Error(`kline at ${kline.openTime} is before the forming bar at ${this.ts}`);
    if (kline.openTime >= this.ts + BAR_MS) this.closeThrough(barOpenTime(kline.openTime));
    this.foldPrice(kline.open, kline.high, kline.low, kline.close);
    this.volume.addBig(kline.volume);
    this.takerBuyVolume.addBig(kline.takerBuyVolume);
    this.trades += kline.trades;
    this.quote.addScaled(kline.quoteVolume);
    this.fromKlines = true;
    this.asOf = kline.openTime + 999;
  }

  private foldPrice(open: number, high: number, low: number, close: number): void {
    if (!this.hasData) {
      this.hasData = true;
      this.open = open;
      this.high = high;
      this.low = low;
    } else {
      if (high > this.high) this.high = high;
      if (low < this.low) this.low = low;
    }
    this.close = close;
    this.revision++;
  }

  /** Every record with time < `timeMs` has been folded in: close each bar that ends at or before it. */
  closeThrough(timeMs: number): void {
    while (this.ts + BAR_MS <= timeMs) this.closeFormingBar();
  }

  private closeFormingBar(): void {
    if (this.hasData) {
      this.closed.push(this.render());
      this.previousClose = this.close;
    } else if (this.previousClose !== null) {
      this.closed.push(flatBar(this.symbol, this.ts, renderScaled(this.previousClose)));
    }
    this.ts += BAR_MS;
    this.hasData = false;
    this.fromKlines = false;
    this.volume = new ExactVolumeSum();
    this.takerBuyVolume = new ExactVolumeSum();
    this.trades = 0;
    this.quote = new ExactQuoteSum();
    this.firstAggId = null;
    this.lastAggId = null;
    this.asOf = null;
    this.revision++;
  }

  private render(): ClosedBar {
    const ids = !this.fromKlines && this.firstAggId !== null;
    return {
      symbol: this.symbol,
      ts: this.ts,
      open: renderScaled(this.open),
      high: renderScaled(this.high),
      low: renderScaled(this.low),
      close: renderScaled(this.close),
      volume: this.volume.render(),
      quote_volume: this.quote.render(),
      trades: this.trades,
      taker_buy_volume: this.takerBuyVolume.render(),
      first_agg_id: ids ? this.firstAggId : null,
      last_agg_id: ids ? this.lastAggId : null,
    };
  }

  /** Bars closed since the last call, oldest first (one shared empty list when none: this runs per trade). */
  takeClosed(): readonly ClosedBar[] {
    if (this.closed.length === 0) return NO_BARS;
    const bars = this.closed;
    this.closed = [];
    return bars;
  }

  /** The bar being formed, or null before the series has a first price. */
  forming(): FormingBar | null {
    if (this.hasData) return { ...this.render(), as_of: this.asOf };
    if (this.previousClose === null) return null;
    return { ...flatBar(this.symbol, this.ts, renderScaled(this.previousClose)), as_of: null };
  }
}
