import { LRUCache } from "lru-cache";
import type { EncodedPage } from "./encoded-page.ts";

export interface CachedPage {
  page: EncodedPage;
  symbol: string;
  /** The open times whose rows make up the page (and its next_cursor): a bar read from the stream in here drops it. */
  lo: number;
  hi: number;
  /** Cached as immutable (deep below the seam): served without checking the stream first. */
  immutable: boolean;
  bars: number;
}

/**
 * Encoded bootstrap pages by normalized query, bounded in bytes (every coding of a page counted), least recently
 * used evicted first. Pages of a symbol are indexed so a bar read from the stream drops exactly those it could change.
 */
export class PageCache {
  private readonly lru: LRUCache<string, CachedPage>;
  private readonly bySymbol = new Map<string, Set<string>>();

  constructor(maxBytes: number) {
    this.lru = new LRUCache<string, CachedPage>({
      maxSize: maxBytes,
      sizeCalculation: (entry) => entry.page.size,
      dispose: (entry, key) => this.bySymbol.get(entry.symbol)?.delete(key),
    });
  }

  get(key: string): CachedPage | undefined {
    return this.lru.get(key);
  }

  /** Without touching recency: whether `entry` is still the one cached under `key`. */
  holds(key: string, entry: CachedPage): boolean {
    return this.lru.peek(key) === entry;
  }

  set(key: string, entry: CachedPage): void {
    this.lru.set(key, entry);
    // A page larger than the whole cache is not stored (and not indexed).
    if (this.lru.peek(key) !== entry) return;
    let keys = this.bySymbol.get(entry.symbol);
    if (!keys) this.bySymbol.set(entry.symbol, (keys = new Set()));
    keys.add(key);
  }

  /** Drops every page of the symbol whose rows a bar at `ts` could add to or change. */
  dropAt(symbol: string, ts: number): number {
    const keys = this.bySymbol.get(symbol);
    if (!keys) return 0;
    let dropped = 0;
    for (const key of [...keys]) {
      const entry = this.lru.peek(key);
      if (entry && entry.lo <= ts && ts <= entry.hi) {
        this.lru.delete(key);
        dropped++;
      }
    }
    return dropped;
  }

  get bytes(): number {
    return this.lru.calculatedSize;
  }
}
