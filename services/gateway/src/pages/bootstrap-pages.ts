import { BAR_MS } from "@gapfill/contracts";
import { MAX_PAGE_LIMIT, type BarStore } from "@gapfill/kit";
import { encodeCursor } from "../cursor.ts";
import { IMMUTABLE_BELOW_SEAM_MS, type SeamReader } from "../seam.ts";
import type { Hub } from "../stream/hub.ts";
import { Coalesced } from "../coalesced.ts";
import { EncodedPage } from "./encoded-page.ts";
import { pageBody, type PageFormat } from "./page-body.ts";
import type { CachedPage, PageCache } from "./page-cache.ts";
import type { RecordedHints } from "./recorded-hints.ts";

/** One bootstrap page, normalized: requests that ask for the same rows share it, whatever their URL. */
export interface PageRequest {
  format: PageFormat;
  symbol: string;
  /** Keyset cursor: only ts < before. */
  before?: number;
  fromTs: number | null;
  toTs: number | null;
  limit: number;
}

export interface ServedPage {
  page: EncodedPage;
  immutable: boolean;
  bars: number;
  cached: boolean;
}

export interface BootstrapPagesDeps {
  store: BarStore;
  hub: Pick<Hub, "feed" | "caughtUp">;
  seams: SeamReader;
  hints: RecordedHints;
  /** Null: every page is read from the store (still one read per round of concurrent requests). */
  cache: PageCache | null;
  cursorKey: Uint8Array;
  onStoreRead?: () => void;
  onCacheLookup?: (result: "hit" | "miss") => void;
}

/** How long the stream check of a request may take before the request reads the store instead. */
const CAUGHT_UP_TIMEOUT_MS = 500;
/**
 * After a read that lacked bars the stream has, the next read of that page waits for a recorder's hint, or this long
 * (the recorder's default batch delay plus its upsert): a thousand requests across a bar close then cost two reads.
 */
const INCOMPLETE_RETRY_MS = 300;

export function pageKey(q: PageRequest): string {
  return `${q.format}|${q.symbol}|${q.before ?? ""}|${q.fromTs ?? ""}|${q.toTs ?? ""}|${q.limit}`;
}

/**
 * Bootstrap pages: from the cache when that is provably what the table holds now, else from one store read shared
 * by concurrent requests.
 *
 * Why a cached page is never stale. Assumptions: rows of price_15s are written only by recorders, from the BARS
 * stream, each equal to its message (an upsert of a redelivered bar rewrites the same values), and never deleted;
 * the stream holds each symbol's bars once each in rising ts order (the ingestor publishes with the expected last
 * subject sequence). A page's rows are those with ts in [lo, hi] (lo: its oldest bar, or from_ts when it is the
 * last page; hi: to_ts or before − 15 s, +∞ without either). A page is cached only
 * - when it lies deep below the seam (immutable, the same rule that lets browsers keep it for a year) and lacks no
 *   bar of the feed's window, or
 * - when the feed's window covers [lo, hi] from below (lo above its floor) and every bar the feed has read with ts in
 *   [lo, hi] is in the page, checked in the same tick as the insertion.
 * Every bar the feed reads afterwards drops the pages whose [lo, hi] holds its ts (PageCache.dropAt). A non-immutable
 * page is served only after `hub.caughtUp`: the feed has read every message the stream held when the request came
 * (its last sequence, asked then). A row visible when the request came is a bar stored in the stream before that, so
 * the feed has read it by then: it was in the page when the page was cached, or it dropped the page since. Rows are
 * never removed, so the page equals what the table holds in [lo, hi] now.
 * Reads are shared through Coalesced, which only hands a caller a read that started after it came.
 */
export class BootstrapPages {
  private readonly reads = new Coalesced<string, ServedPage>();
  /** Pages whose last read lacked bars of the stream: the next read waits for a recorder's hint. */
  private readonly waitingForRecorder = new Map<string, Promise<void>>();

  private readonly deps: BootstrapPagesDeps;

  constructor(deps: BootstrapPagesDeps) {
    this.deps = deps;
  }

  /** A bar read from the stream: pages it could change are dropped. */
  onStoredBar(symbol: string, ts: number): void {
    this.deps.cache?.dropAt(symbol, ts);
  }

  /**
   * Starts the check that the feed caught up with the stream, for a request that just came: started before the
   * request is authenticated and validated, it is usually done by the time the page is looked up.
   */
  checkFreshness(symbol: string): { symbol: string; caughtUp: Promise<boolean> } {
    return { symbol, caughtUp: this.deps.hub.caughtUp(symbol, CAUGHT_UP_TIMEOUT_MS) };
  }

  /** The page; `freshness`, from checkFreshness when the request came, spares a check when it is about q's symbol. */
  async get(q: PageRequest, freshness?: { symbol: string; caughtUp: Promise<boolean> }): Promise<ServedPage> {
    const key = pageKey(q);
    const cached = await this.fromCache(key, q.symbol, freshness?.symbol === q.symbol ? freshness.caughtUp : undefined);
    this.deps.onCacheLookup?.(cached ? "hit" : "miss");
    if (cached) return cached;
    return this.reads.run(key, (seal) => this.read(key, q, seal));
  }

  /** The cached page when it may be served now (see the class comment), else null. */
  private async fromCache(key: string, symbol: string, caughtUp?: Promise<boolean>): Promise<ServedPage | null> {
    const { cache, hub } = this.deps;
    const entry = cache?.get(key);
    if (!entry) return null;
    if (!entry.immutable && !((await (caughtUp ?? hub.caughtUp(symbol, CAUGHT_UP_TIMEOUT_MS))) && cache!.holds(key, entry))) return null;
    return { page: entry.page, immutable: entry.immutable, bars: entry.bars, cached: true };
  }

  private async read(key: string, q: PageRequest, seal: () => void): Promise<ServedPage> {
    const { store, seams, hints, cursorKey } = this.deps;
    await this.waitingForRecorder.get(key);
    seal();
    // The round before this one may have cached the page.
    const cached = await this.fromCache(key, q.symbol);
    if (cached) return cached;

    const hintsBefore = hints.count(q.symbol);
    const hi = q.before !== undefined ? q.before - BAR_MS : q.toTs;
    // One row more than the page tells whether an older page exists, so the last page says null.
    const probe = Math.min(q.limit + 1, MAX_PAGE_LIMIT);
    this.deps.onStoreRead?.();
    const [rows, seam] = await Promise.all([
      store.pageNewestFirst(q.symbol, { before: q.before, fromTs: q.fromTs ?? undefined, toTs: q.toTs ?? undefined, limit: probe }),
      hi === null ? null : seams.read(q.symbol),
    ]);
    const bars = rows.slice(0, q.limit);
    const oldest = bars.at(-1);
    const hasOlder = rows.length > q.limit || (probe === q.limit && rows.length === q.limit);
    const nextCursor =
      hasOlder && oldest ? encodeCursor({ symbol: q.symbol, before: oldest.ts, fromTs: q.fromTs, toTs: q.toTs }, cursorKey) : null;
    const page = new EncodedPage(pageBody(q.format, q.symbol, bars, nextCursor));
    // Rows there can still appear while a hole near the top of the table waits for the recorder, so only a page well
    // below the seam is immutable.
    const immutable = hi !== null && seam !== null && hi <= seam - IMMUTABLE_BELOW_SEAM_MS;
    const served: ServedPage = { page, immutable, bars: bars.length, cached: false };
    const entry: CachedPage = {
      page,
      symbol: q.symbol,
      lo: hasOlder && oldest ? oldest.ts : (q.fromTs ?? -Infinity),
      hi: hi ?? Infinity,
      immutable,
      bars: bars.length,
    };
    if (this.completeness(entry, bars) === "incomplete") this.waitForRecorder(key, q.symbol, hintsBefore);
    if (!this.deps.cache || !this.cacheable(entry, bars)) return served;
    await page.encodeAll();
    // Checked again in the same tick as the insertion: a bar read during the encoding must not be missed.
    if (this.cacheable(entry, bars)) this.deps.cache.set(key, entry);
    return served;
  }

  /** Complete against the feed; or immutable and, where the feed's window reaches, not lacking any of its bars. */
  private cacheable(entry: CachedPage, bars: readonly { ts: number }[]): boolean {
    const completeness = this.completeness(entry, bars);
    return completeness === "complete" || (entry.immutable && completeness === "unknown");
  }

  /**
   * Whether the page holds every bar the feed has read with ts in [lo, hi] ("unknown" when the feed's window does
   * not reach down to lo).
   */
  private completeness(entry: CachedPage, newestFirst: readonly { ts: number }[]): "complete" | "incomplete" | "unknown" {
    const feed = this.deps.hub.feed(entry.symbol);
    if (!feed?.covers(entry.lo)) return "unknown";
    const expected = feed.barTsBetween(entry.lo, entry.hi);
    let i = newestFirst.length - 1;
    for (const ts of expected) {
      while (i >= 0 && newestFirst[i]!.ts < ts) i--;
      if (i < 0 || newestFirst[i]!.ts !== ts) return "incomplete";
    }
    return "complete";
  }

  private waitForRecorder(key: string, symbol: string, hintsBefore: number): void {
    if (this.waitingForRecorder.has(key)) return;
    const wait = this.deps.hints.after(symbol, hintsBefore, INCOMPLETE_RETRY_MS).then(() => {
      this.waitingForRecorder.delete(key);
    });
    this.waitingForRecorder.set(key, wait);
  }
}
