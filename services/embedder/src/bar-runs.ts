import { BAR_MS, embeddingWindow, type ClosedBar } from "@gapfill/contracts";

/** A bar with the stream sequence it is stored at. */
export interface StoredBar {
  bar: ClosedBar;
  seq: number;
}

/**
 * Consecutive bars of one symbol (each opening one BAR_MS after the one before), oldest first, with their stream
 * sequences: a stretch of the stream's series that the embedder holds in memory.
 */
export class BarRun {
  readonly bars: ClosedBar[];
  readonly seqs: number[];
  /**
   * Whether the stream is known to hold no bar right before the first one (the series starts there, or has a gap):
   * then a window that reaches further back does not exist, and reading the stream again would not find it.
   */
  startsSeries = false;

  constructor(first: StoredBar) {
    this.bars = [first.bar];
    this.seqs = [first.seq];
  }

  get firstTs(): number {
    return this.bars[0]!.ts;
  }

  get lastTs(): number {
    return this.bars[this.bars.length - 1]!.ts;
  }

  get firstSeq(): number {
    return this.seqs[0]!;
  }

  holds(ts: number): boolean {
    return ts >= this.firstTs && ts <= this.lastTs;
  }

  push({ bar, seq }: StoredBar): void {
    this.bars.push(bar);
    this.seqs.push(seq);
  }

  /** Keeps at most the newest `keep` bars; what is dropped is still in the stream, so the run no longer starts the series. */
  trim(keep: number): void {
    const drop = this.bars.length - keep;
    if (drop <= 0) return;
    this.bars.splice(0, drop);
    this.seqs.splice(0, drop);
    this.startsSeries = false;
  }

  /**
   * Puts in front of the run the bars the stream holds before its first one, as read: every bar of the symbol
   * stored before it with ts >= `windowStart`. What ends right before the run joins it; when that still does not
   * reach `windowStart`, the stream has no bar right before it and the run starts the series.
   */
  prepend(older: readonly StoredBar[], windowStart: number): void {
    const byTs = new Map<number, StoredBar>();
    // Later in the stream wins, as in price_15s: a bar published again replaces the earlier copy.
    for (const stored of older) byTs.set(stored.bar.ts, stored);
    const stretch: StoredBar[] = [];
    for (let ts = this.firstTs - BAR_MS; byTs.has(ts); ts -= BAR_MS) stretch.push(byTs.get(ts)!);
    stretch.reverse();
    this.bars.unshift(...stretch.map((s) => s.bar));
    this.seqs.unshift(...stretch.map((s) => s.seq));
    if (this.firstTs > windowStart) this.startsSeries = true;
  }

  /** The embedding window ending at `ts`, when this run holds all of it. */
  window(ts: number, windowBars: number): readonly ClosedBar[] | null {
    return embeddingWindow(this.bars, ts, windowBars);
  }
}

/**
 * The runs of one symbol's bars in memory. Bars normally arrive in stream order and extend the newest run; after a
 * restart, redelivered bars (older than the ones delivered since) form a run of their own. At most `maxRuns` are
 * kept, the least recently extended dropped first, each trimmed to `keep` bars.
 */
export class SymbolBars {
  private runs: BarRun[] = [];

  private readonly keep: number;
  private readonly maxRuns: number;

  constructor(
    keep: number,
    maxRuns = 2,
  ) {
    this.keep = keep;
    this.maxRuns = maxRuns;
  }

  /** Places a bar: extends the run it follows, or starts a run; a bar already held changes nothing. Returns its run. */
  add(stored: StoredBar): BarRun {
    const ts = stored.bar.ts;
    const holding = this.runs.find((run) => run.holds(ts));
    if (holding) return holding;
    const extended = this.runs.find((run) => run.lastTs + BAR_MS === ts);
    const run = extended ?? new BarRun(stored);
    if (extended) {
      extended.push(stored);
      // Trimming in steps of `keep` keeps the cost per bar constant.
      if (extended.bars.length >= 2 * this.keep) extended.trim(this.keep);
    }
    this.runs = [run, ...this.runs.filter((r) => r !== run)].slice(0, this.maxRuns);
    return run;
  }
}
