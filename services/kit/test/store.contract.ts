/**
 * The store contract: the same cases run against every adapter (store-postgres, store-supabase, store-embedded).
 * Each case works on its own symbol, so cases share one store and one table without seeing each other's rows.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BAR_MS, closedBarSchema, type ClosedBar } from "@gapfill/contracts";
import { MAX_PAGE_LIMIT, StoreInputError, type BarStore } from "../src/store/index.ts";
import { TEST_SERIES_START, testBars } from "@gapfill/testkit";

export interface StoreUnderTest {
  store: BarStore;
  /** Releases what the run created (schema, files, servers). */
  teardown(): Promise<void>;
}

const newestFirst = (bars: readonly ClosedBar[]) => [...bars].sort((a, b) => b.ts - a.ts);
const tsOf = (bars: readonly ClosedBar[]) => bars.map((bar) => bar.ts);
const at = (i: number) => TEST_SERIES_START + i * BAR_MS;

/** Every page of a symbol, newest first, following the keyset cursor like the gateway does. */
async function allPages(store: BarStore, symbol: string, limit: number, bounds: { fromTs?: number; toTs?: number } = {}) {
  const pages: ClosedBar[][] = [];
  let before: number | undefined;
  for (;;) {
    const page = await store.pageNewestFirst(symbol, { ...bounds, before, limit });
    if (page.length === 0) break;
    pages.push(page);
    before = page[page.length - 1]!.ts;
    if (page.length < limit) break;
  }
  return pages;
}

export function describeStoreContract(name: string, open: () => Promise<StoreUnderTest>): void {
  describe(`${name} store contract`, () => {
    let subject: StoreUnderTest;
    let store: BarStore;

    beforeAll(async () => {
      subject = await open();
      store = subject.store;
    });
    afterAll(async () => {
      await subject?.teardown();
    });

    it("answers ping, and an empty table has no last bar and empty pages", async () => {
      await store.ping();
      expect(await store.lastBarTs("BTCUSDT")).toBeNull();
      expect(await store.pageNewestFirst("BTCUSDT", { limit: 5000 })).toEqual([]);
      expect(await store.pageNewestFirst("BTCUSDT", { before: at(10), fromTs: at(0), toTs: at(20), limit: 1 })).toEqual([]);
      await store.upsertBars([]);
      expect(await store.lastBarTs("BTCUSDT")).toBeNull();
    });

    it("stores every field exactly and returns ts as epoch ms", async () => {
      const bars = testBars("EXACT", at(0), 40, 7);
      const awkward: ClosedBar = {
        symbol: "EXACT",
        ts: at(40),
        open: 0.1 + 0.2,
        high: 123456789.12345679,
        low: 1e-8,
        close: 0.00000123,
        volume: 98765.43210987654,
        quote_volume: 1234567890123.4568,
        trades: 2 ** 40,
        taker_buy_volume: 0.30000000000000004,
        first_agg_id: 2 ** 50,
        last_agg_id: 2 ** 50 + 12345,
      };
      expect(closedBarSchema.safeParse(awkward).success).toBe(true);
      await store.upsertBars([...bars, awkward]);
      const page = await store.pageNewestFirst("EXACT", { limit: 100 });
      expect(page).toEqual(newestFirst([...bars, awkward]));
      for (const bar of page) expect(Object.keys(bar).sort()).toEqual(Object.keys(awkward).sort());
      expect(await store.lastBarTs("EXACT")).toBe(at(40));
    });

    it("pages newest first with an exclusive keyset cursor: exact boundaries, no duplicates, no holes", async () => {
      const bars = testBars("PAGES", at(0), 12);
      await store.upsertBars(bars);
      const pages = await allPages(store, "PAGES", 4);
      expect(pages.map((page) => page.length)).toEqual([4, 4, 4]);
      expect(pages.flat()).toEqual(newestFirst(bars));
      // The page after the last full one is empty, not an error.
      expect(await store.pageNewestFirst("PAGES", { before: at(0), limit: 4 })).toEqual([]);
      const uneven = await allPages(store, "PAGES", 5);
      expect(uneven.map((page) => page.length)).toEqual([5, 5, 2]);
      expect(tsOf(uneven.flat())).toEqual(tsOf(newestFirst(bars)));
      // `before` is exclusive even when it is a stored bar's ts, and may fall between bars.
      expect(tsOf(await store.pageNewestFirst("PAGES", { before: at(6), limit: 2 }))).toEqual([at(5), at(4)]);
      expect(tsOf(await store.pageNewestFirst("PAGES", { before: at(6) + 1, limit: 2 }))).toEqual([at(6), at(5)]);
    });

    it("applies fromTs and toTs inclusively and combines them with the cursor", async () => {
      const bars = testBars("BOUNDS", at(0), 20);
      await store.upsertBars(bars);
      const page = (query: { before?: number; fromTs?: number; toTs?: number; limit?: number }) =>
        store.pageNewestFirst("BOUNDS", { limit: 100, ...query }).then(tsOf);
      expect(await page({ fromTs: at(15) })).toEqual([at(19), at(18), at(17), at(16), at(15)]);
      expect(await page({ toTs: at(3) })).toEqual([at(3), at(2), at(1), at(0)]);
      expect(await page({ fromTs: at(5), toTs: at(7) })).toEqual([at(7), at(6), at(5)]);
      expect(await page({ fromTs: at(5), toTs: at(5) })).toEqual([at(5)]);
      expect(await page({ fromTs: at(5) + 1, toTs: at(7) - 1 })).toEqual([at(6)]);
      expect(await page({ fromTs: at(8), toTs: at(7) })).toEqual([]);
      expect(await page({ fromTs: at(5), toTs: at(15), before: at(9) })).toEqual([at(8), at(7), at(6), at(5)]);
      expect(await page({ fromTs: at(5), toTs: at(15), before: at(9), limit: 2 })).toEqual([at(8), at(7)]);
      expect(await page({ toTs: at(10), before: at(15) })).toHaveLength(11);
      expect(await page({ fromTs: at(25) })).toEqual([]);
    });

    it("keeps one row per (symbol, ts): the last upsert wins, in one batch and across batches", async () => {
      const first = testBars("UPSERT", at(0), 10, 1);
      const second = testBars("UPSERT", at(0), 10, 2);
      await store.upsertBars(first);
      await store.upsertBars(second.slice(0, 5));
      expect(await store.pageNewestFirst("UPSERT", { limit: 100 })).toEqual(newestFirst([...second.slice(0, 5), ...first.slice(5)]));
      // The same key twice in one batch: the later bar wins.
      await store.upsertBars([first[2]!, second[2]!, second[2]!, first[3]!]);
      const rows = await store.pageNewestFirst("UPSERT", { limit: 100 });
      expect(rows).toHaveLength(10);
      expect(rows.find((bar) => bar.ts === at(2))).toEqual(second[2]);
      expect(rows.find((bar) => bar.ts === at(3))).toEqual(first[3]);
      // A replay of what is already stored changes nothing.
      await store.upsertBars(rows);
      expect(await store.pageNewestFirst("UPSERT", { limit: 100 })).toEqual(rows);
    });

    it("keeps symbols apart: the same ts under two symbols are two rows", async () => {
      await store.upsertBars([...testBars("SIDEA", at(0), 3, 1), ...testBars("SIDEB", at(0), 5, 2)]);
      expect(await store.pageNewestFirst("SIDEA", { limit: 10 })).toEqual(newestFirst(testBars("SIDEA", at(0), 3, 1)));
      expect(await store.pageNewestFirst("SIDEB", { limit: 10 })).toEqual(newestFirst(testBars("SIDEB", at(0), 5, 2)));
      expect(await store.lastBarTs("SIDEA")).toBe(at(2));
      expect(await store.lastBarTs("SIDEB")).toBe(at(4));
    });

    it("serves limit 1 and the maximum limit, and rejects limits outside 1..MAX_PAGE_LIMIT", async () => {
      const bars = testBars("LIMITS", at(0), 30);
      await store.upsertBars(bars);
      expect(await store.pageNewestFirst("LIMITS", { limit: 1 })).toEqual([bars[29]]);
      expect(await store.pageNewestFirst("LIMITS", { before: at(29), limit: 1 })).toEqual([bars[28]]);
      expect(await store.pageNewestFirst("LIMITS", { limit: MAX_PAGE_LIMIT })).toEqual(newestFirst(bars));
      for (const limit of [0, -1, 1.5, MAX_PAGE_LIMIT + 1, Number.NaN, Infinity]) {
        await expect(store.pageNewestFirst("LIMITS", { limit })).rejects.toThrow(StoreInputError);
      }
      for (const bound of ["before", "fromTs", "toTs"] as const) {
        await expect(store.pageNewestFirst("LIMITS", { limit: 1, [bound]: -15_000 })).rejects.toThrow(`${bound}: expected epoch milliseconds`);
        await expect(store.pageNewestFirst("LIMITS", { limit: 1, [bound]: 1.5 })).rejects.toThrow(StoreInputError);
      }
    });

    it("serves 5,000-row pages whole, across backend response caps, down to the last short page", async () => {
      const bars = testBars("BIGPAGE", at(0), 12_000, 3);
      await store.upsertBars(bars);
      const pages = await allPages(store, "BIGPAGE", 5000);
      expect(pages.map((page) => page.length)).toEqual([5000, 5000, 2000]);
      expect(pages.flat()).toEqual(newestFirst(bars));
      const bounded = await store.pageNewestFirst("BIGPAGE", { fromTs: at(1000), toTs: at(7999), limit: 5000 });
      expect(tsOf(bounded)).toEqual(tsOf(newestFirst(bars.slice(3000, 8000))));
      expect(await store.pageNewestFirst("BIGPAGE", { limit: MAX_PAGE_LIMIT })).toHaveLength(12_000);
    });

    it("rejects odd and unicode symbols cleanly before any I/O, and writes nothing from a bad batch", async () => {
      const odd = ["btcusdt", "BTC/USDT", "BTC USDT", "ＢＴＣＵＳＤＴ", "BTC💥", "B", "", "A".repeat(21), "BTC'; drop table price_15s; --", "BTC\u0000"];
      for (const symbol of odd) {
        await expect(store.lastBarTs(symbol)).rejects.toThrow(StoreInputError);
        await expect(store.pageNewestFirst(symbol, { limit: 10 })).rejects.toThrow(/symbol .*must be 2-20 upper-case letters or digits/);
        const [bar] = testBars("GOODSYM", at(0), 1);
        await expect(store.upsertBars([{ ...bar!, symbol }])).rejects.toThrow(StoreInputError);
      }
      const good = testBars("GOODSYM", at(0), 3);
      await expect(store.upsertBars([...good, { ...good[0]!, symbol: "BAD/ONE" }])).rejects.toThrow(StoreInputError);
      await expect(store.upsertBars([...good, { ...good[0]!, ts: at(3) + 1 }])).rejects.toThrow(/multiple of 15000/);
      expect(await store.lastBarTs("GOODSYM")).toBeNull();
      // The store is still healthy afterwards.
      await store.ping();
    });
  });
}
