/**
 * The store contract: the same cases run against every adapter (store-postgres, store-supabase, store-embedded).
 * Each case works on its own symbol, so cases share one store and one table without seeing each other's rows.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BAR_MS, closedBarSchema, EMBEDDING_DIM, FEATURE_VERSION, type ClosedBar } from "@gapfill/contracts";
import {
  MAX_EMBEDDING_DIM,
  MAX_PAGE_LIMIT,
  StoreInputError,
  type BarStore,
  type EmbeddingInput,
  type EmbeddingRow,
  type PredictionRow,
  type Store,
} from "../src/store/index.ts";
import { TEST_SERIES_START, testBars, testEmbeddings } from "@gapfill/testkit";

export interface StoreUnderTest {
  store: Store;
  /** Releases what the run created (schema, files, servers). */
  teardown(): Promise<void>;
}

const newestFirst = (bars: readonly ClosedBar[]) => [...bars].sort((a, b) => b.ts - a.ts);
const tsOf = (bars: readonly ClosedBar[]) => bars.map((bar) => bar.ts);
const at = (i: number) => TEST_SERIES_START + i * BAR_MS;

/** Rows with their embedding as the hex of its bytes, so equality is bit for bit. */
export const bitwise = (rows: readonly EmbeddingRow[]) =>
  rows.map((row) => ({ ...row, embedding: Buffer.from(row.embedding.buffer, row.embedding.byteOffset, row.embedding.byteLength).toString("hex") }));
const byTsDescending = (rows: readonly EmbeddingRow[]) => [...rows].sort((a, b) => b.ts - a.ts);
/** Export order: ts, then symbol. */
export const byTsThenSymbol = (rows: readonly EmbeddingRow[]) =>
  [...rows].sort((a, b) => a.ts - b.ts || (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0));

export async function collectAll<T>(rows: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const row of rows) all.push(row);
  return all;
}

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
    let store: Store;

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

    describe("embeddings (ai_outputs)", () => {
      it("has none in an empty table: no last ts, no rows, an empty export", async () => {
        expect(await store.lastEmbeddingTs("EMPTYEMB")).toBeNull();
        expect(await store.newestEmbeddings("EMPTYEMB", { limit: 10 })).toEqual([]);
        expect(await collectAll(store.exportEmbeddings({ fromTs: 0, toTs: at(100), symbol: "EMPTYEMB" }))).toEqual([]);
        await store.upsertEmbeddings([]);
        expect(await store.lastEmbeddingTs("EMPTYEMB")).toBeNull();
      });

      it("gives back float32 embeddings bit for bit: subnormals, extremes, numbers given as float32-exact arrays", async () => {
        const random = testEmbeddings("EXACTEMB", at(0), 40, { seed: 5 });
        const corners = [0, 1, -1, Math.fround(0.1), Math.fround(1 / 3), 3.4028234663852886e38, -3.4028234663852886e38,
          1.1754943508222875e-38, 1.401298464324817e-45, -1.401298464324817e-45, 16777216, Math.fround(1e-30), Math.fround(Math.PI)];
        const edge: EmbeddingRow = {
          symbol: "EXACTEMB", ts: at(40), feature_version: FEATURE_VERSION, producer: "builtin",
          embedding: Float32Array.from({ length: EMBEDDING_DIM }, (_, k) => corners[k] ?? Math.fround(-k / 7)),
        };
        const asNumbers: EmbeddingInput = { ...edge, ts: at(41), embedding: Array.from(edge.embedding) };
        // -0 is stored as 0, on every backend.
        const negativeZero: EmbeddingInput = { ...edge, ts: at(42), embedding: Array.from(edge.embedding, (v, k) => (k === 0 ? -0 : v)) };
        await store.upsertEmbeddings([...random, edge, asNumbers, negativeZero]);
        const expected = [...random, edge, { ...edge, ts: at(41) }, { ...edge, ts: at(42) }];
        const newest = await store.newestEmbeddings("EXACTEMB", { limit: 100 });
        expect(bitwise(newest)).toEqual(bitwise(byTsDescending(expected)));
        for (const row of newest) expect(row.embedding).toBeInstanceOf(Float32Array);
        const exported = await collectAll(store.exportEmbeddings({ fromTs: at(0) - 1, toTs: at(42), symbol: "EXACTEMB" }));
        expect(bitwise(exported)).toEqual(bitwise(expected));
        expect(await store.lastEmbeddingTs("EXACTEMB")).toBe(at(42));
      });

      it("keeps one row per (symbol, ts): the later row wins, in one batch and across batches; a replay changes nothing", async () => {
        const first = testEmbeddings("UPEMB", at(0), 6, { seed: 1 });
        const second = testEmbeddings("UPEMB", at(0), 6, { seed: 2, producer: "other" });
        await store.upsertEmbeddings(first);
        await store.upsertEmbeddings(second.slice(0, 3));
        const stored = () => store.newestEmbeddings("UPEMB", { limit: 100 }).then(bitwise);
        expect(await stored()).toEqual(bitwise(byTsDescending([...second.slice(0, 3), ...first.slice(3)])));
        await store.upsertEmbeddings([first[4]!, second[4]!, second[4]!, first[5]!]);
        const relayout: EmbeddingRow = { ...first[0]!, feature_version: "ext.v2", producer: "external", embedding: Float32Array.of(1, 2, 3) };
        await store.upsertEmbeddings([relayout]);
        const expected = bitwise(byTsDescending([relayout, ...second.slice(1, 3), first[3]!, second[4]!, first[5]!]));
        expect(await stored()).toEqual(expected);
        await store.upsertEmbeddings(await store.newestEmbeddings("UPEMB", { limit: 100 }));
        expect(await stored()).toEqual(expected);
      });

      it("serves the newest first, after an exclusive ts, at most limit, of one feature_version when asked", async () => {
        const builtin = testEmbeddings("NEWEMB", at(0), 10);
        const external = testEmbeddings("NEWEMB", at(10), 3, { seed: 3, dim: 4, featureVersion: "ext.v1", producer: "external" });
        await store.upsertEmbeddings([...builtin, ...external]);
        const newest = (query: { limit: number; after?: number; featureVersion?: string }) =>
          store.newestEmbeddings("NEWEMB", query).then((rows) => rows.map((row) => row.ts));
        expect(await newest({ limit: 4 })).toEqual([at(12), at(11), at(10), at(9)]);
        expect(await newest({ limit: 100, after: at(7) })).toEqual([at(12), at(11), at(10), at(9), at(8)]);
        expect(await newest({ limit: 2, after: at(7) })).toEqual([at(12), at(11)]);
        expect(await newest({ limit: 100, after: at(7) + 1 })).toHaveLength(5);
        expect(await newest({ limit: 100, after: at(12) })).toEqual([]);
        expect(await newest({ limit: 100, featureVersion: FEATURE_VERSION })).toEqual(builtin.map((row) => row.ts).reverse());
        expect(bitwise(await store.newestEmbeddings("NEWEMB", { limit: 100, after: at(10), featureVersion: "ext.v1" }))).toEqual(
          bitwise(byTsDescending(external.slice(1))),
        );
        expect(await store.lastEmbeddingTs("NEWEMB")).toBe(at(12));
        for (const limit of [0, -1, 1.5, MAX_PAGE_LIMIT + 1]) {
          await expect(store.newestEmbeddings("NEWEMB", { limit })).rejects.toThrow(/limit: expected an integer/);
        }
        await expect(store.newestEmbeddings("NEWEMB", { limit: 1, after: -15_000 })).rejects.toThrow(/after: expected epoch milliseconds/);
        await expect(store.newestEmbeddings("NEWEMB", { limit: 1, featureVersion: "no spaces" })).rejects.toThrow(StoreInputError);
        await expect(store.newestEmbeddings("new/emb", { limit: 1 })).rejects.toThrow(StoreInputError);
      });

      it("exports (fromTs, toTs] in (ts, symbol) order across symbols past 1,000 rows, or one symbol's, lazily", async () => {
        // Far from every other case's times, so this range holds only these rows.
        const base = at(1_000_000);
        const rows = [
          ...testEmbeddings("EXPA", base, 700, { seed: 11 }),
          ...testEmbeddings("EXPB", base, 700, { seed: 12 }),
          ...testEmbeddings("EXPC", base, 700, { seed: 13 }),
          ...testEmbeddings("EXPD", base + 200 * BAR_MS, 50, { seed: 14, dim: 3, featureVersion: "ext.v1", producer: "external" }),
        ];
        await store.upsertEmbeddings(rows);
        const range = { fromTs: base + 100 * BAR_MS, toTs: base + 650 * BAR_MS };
        const inRange = byTsThenSymbol(rows.filter((row) => row.ts > range.fromTs && row.ts <= range.toTs));
        expect(inRange).toHaveLength(3 * 550 + 50);
        expect(bitwise(await collectAll(store.exportEmbeddings(range)))).toEqual(bitwise(inRange));
        // Small pages end inside a ts shared by four symbols; the cursor goes on from the exact (ts, symbol).
        expect(bitwise(await collectAll(store.exportEmbeddings({ ...range, pageSize: 7 })))).toEqual(bitwise(inRange));
        expect(bitwise(await collectAll(store.exportEmbeddings({ ...range, symbol: "EXPB", pageSize: 100 })))).toEqual(
          bitwise(inRange.filter((row) => row.symbol === "EXPB")),
        );
        expect(bitwise(await collectAll(store.exportEmbeddings({ ...range, featureVersion: FEATURE_VERSION })))).toEqual(
          bitwise(inRange.filter((row) => row.feature_version === FEATURE_VERSION)),
        );
        expect(await collectAll(store.exportEmbeddings({ fromTs: range.toTs, toTs: range.toTs }))).toEqual([]);
        // A consumer may stop early; the iterator is not read further.
        const firstFive: EmbeddingRow[] = [];
        for await (const row of store.exportEmbeddings(range)) if (firstFive.push(row) === 5) break;
        expect(bitwise(firstFive)).toEqual(bitwise(inRange.slice(0, 5)));
        // A bad query fails at the call, before any iteration.
        expect(() => store.exportEmbeddings({ fromTs: range.toTs, toTs: range.fromTs })).toThrow(/fromTs <= toTs/);
        expect(() => store.exportEmbeddings({ ...range, pageSize: 0 })).toThrow(/pageSize: expected an integer/);
        expect(() => store.exportEmbeddings({ ...range, symbol: "exp a" })).toThrow(StoreInputError);
      });

      it("refuses a bad embedding row before any I/O and writes nothing from its batch", async () => {
        const good = testEmbeddings("GOODEMB", at(0), 3);
        const [row] = testEmbeddings("GOODEMB", at(3), 1);
        const values = Array.from(row!.embedding);
        const bad: [EmbeddingInput, RegExp][] = [
          [{ ...row!, symbol: "GOOD/EMB" }, /must be 2-20 upper-case letters or digits/],
          [{ ...row!, ts: at(3) + 1 }, /multiple of 15000/],
          [{ ...row!, embedding: new Float32Array(0) }, /expected 1 to 4096 values, got 0/],
          [{ ...row!, feature_version: "ext.big", embedding: new Float32Array(MAX_EMBEDDING_DIM + 1) }, /got 4097/],
          [{ ...row!, embedding: values.map((v, k) => (k === 2 ? Number.NaN : v)) }, /value 2 must be a finite float32 number, got NaN/],
          [{ ...row!, embedding: Float32Array.from(values, (v, k) => (k === 3 ? Infinity : v)) }, /value 3 .* got Infinity/],
          [{ ...row!, embedding: values.map((v, k) => (k === 4 ? 0.1 : v)) }, /value 4 must be a finite float32 number, got 0.1/],
          [{ ...row!, embedding: values.map((v, k) => (k === 5 ? ("1" as unknown as number) : v)) }, /value 5/],
          [{ ...row!, embedding: values.slice(1) }, /expected 25 values for feature_version bars15s\.v1, got 24/],
          [{ ...row!, feature_version: "" }, /feature_version .*expected 1-64 letters/],
          [{ ...row!, feature_version: "has space" }, /feature_version/],
          [{ ...row!, producer: "p".repeat(65) }, /producer .*expected 1-64 letters/],
        ];
        for (const [input, message] of bad) {
          await expect(store.upsertEmbeddings([...good, input])).rejects.toThrow(StoreInputError);
          await expect(store.upsertEmbeddings([...good, input])).rejects.toThrow(message);
        }
        // One feature_version, two lengths in one batch.
        const mixed = [
          { ...row!, feature_version: "ext.v1", embedding: Float32Array.of(1, 2, 3) },
          { ...row!, ts: at(4), feature_version: "ext.v1", embedding: Float32Array.of(1, 2, 3, 4) },
        ];
        await expect(store.upsertEmbeddings([...good, ...mixed])).rejects.toThrow(/expected 3 values for feature_version ext\.v1, got 4/);
        expect(await store.lastEmbeddingTs("GOODEMB")).toBeNull();
        await store.ping();
      });
    });

    describe("predictions (ml_predictions)", () => {
      const prediction = (i: number, model_version: string, prob_up: number): PredictionRow => ({ symbol: "PRED", ts: at(i), model_version, prob_up });

      it("keeps one row per (symbol, ts, model_version); the newest is by ts, then the greatest version", async () => {
        expect(await store.newestPrediction("PRED")).toBeNull();
        await store.upsertPredictions([
          prediction(0, "v1", 0.5), prediction(1, "v1", 0.25), prediction(2, "v1", 1 / 3),
          prediction(1, "v2", 0.75), prediction(2, "v2", 0), prediction(2, "v2", 1),
        ]);
        expect(await store.newestPrediction("PRED")).toEqual(prediction(2, "v2", 1));
        expect(await store.newestPrediction("PRED", "v1")).toEqual(prediction(2, "v1", 1 / 3));
        expect(await store.newestPrediction("PRED", "v3")).toBeNull();
        await store.upsertPredictions([prediction(2, "v1", 0.9), prediction(3, "v1", 0.1 + 0.2)]);
        expect(await store.newestPrediction("PRED")).toEqual(prediction(3, "v1", 0.1 + 0.2));
        expect(await store.newestPrediction("PRED", "v2")).toEqual(prediction(2, "v2", 1));
        // A replay changes nothing.
        await store.upsertPredictions([prediction(3, "v1", 0.1 + 0.2)]);
        expect(await store.newestPrediction("PRED", "v1")).toEqual(prediction(3, "v1", 0.1 + 0.2));
        // "Greatest" is byte order on every backend: lower-case after upper-case, "10" before "2".
        await store.upsertPredictions([prediction(4, "v10", 0.4), prediction(4, "V2", 0.2), prediction(4, "v1.9", 0.3)]);
        expect(await store.newestPrediction("PRED")).toEqual(prediction(4, "v10", 0.4));
      });

      it("lists one model version's predictions oldest first after an exclusive ts, at most limit, every double exact", async () => {
        const awkward = [5e-324, 1 - 2 ** -53, 0.1 + 0.2, 1e-300, 0.5, 2 / 3];
        const rows = awkward.map((p, i) => ({ symbol: "PREDSINCE", ts: at(i), model_version: "20261126T050000Z", prob_up: p }));
        await store.upsertPredictions([...rows, { ...rows[0]!, model_version: "other" }]);
        const since = (after: number, limit = 100) => store.predictionsSince("PREDSINCE", { modelVersion: "20261126T050000Z", after, limit });
        expect(await since(at(0) - 1)).toEqual(rows);
        expect(await since(at(0))).toEqual(rows.slice(1));
        expect(await since(at(1), 2)).toEqual(rows.slice(2, 4));
        expect(await since(at(5))).toEqual([]);
        await expect(store.predictionsSince("PREDSINCE", { modelVersion: "../x", after: 0, limit: 1 })).rejects.toThrow(StoreInputError);
        await expect(store.predictionsSince("PREDSINCE", { modelVersion: "v1", after: 0, limit: 0 })).rejects.toThrow(/limit/);
      });

      it("refuses a bad prediction row before any I/O and writes nothing from its batch", async () => {
        const good = [0, 1, 2].map((i) => ({ ...prediction(i, "v1", 0.5), symbol: "GOODPRED" }));
        const bad: [PredictionRow, RegExp][] = [
          [{ ...good[0]!, prob_up: 1.5 }, /prob_up .*expected a number from 0 to 1, got 1.5/],
          [{ ...good[0]!, prob_up: -0.1 }, /got -0.1/],
          [{ ...good[0]!, prob_up: Number.NaN }, /got NaN/],
          [{ ...good[0]!, prob_up: "0.5" as unknown as number }, /prob_up/],
          [{ ...good[0]!, model_version: "../x" }, /model_version .*file-name-safe/],
          [{ ...good[0]!, ts: at(0) + 1 }, /multiple of 15000/],
          [{ ...good[0]!, symbol: "good pred" }, /must be 2-20 upper-case letters or digits/],
        ];
        for (const [input, message] of bad) {
          await expect(store.upsertPredictions([...good, input])).rejects.toThrow(StoreInputError);
          await expect(store.upsertPredictions([...good, input])).rejects.toThrow(message);
        }
        expect(await store.newestPrediction("GOODPRED")).toBeNull();
        await expect(store.newestPrediction("GOODPRED", "../x")).rejects.toThrow(StoreInputError);
      });
    });
  });
}
