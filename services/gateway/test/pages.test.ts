import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { Coalesced } from "../src/coalesced.ts";
import { EncodedPage, matchesEtag } from "../src/pages/encoded-page.ts";
import { PageCache, type CachedPage } from "../src/pages/page-cache.ts";

/** A promise with its resolve, to hold a load open while callers arrive. */
function gate<T>() {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (open = resolve));
  return { promise, open };
}

describe("Coalesced", () => {
  it("joins callers to a round until it is sealed, then to one next round that starts after it ends", async () => {
    const reads = new Coalesced<string, number>();
    const events: string[] = [];
    const first = gate<void>();
    const second = gate<void>();
    let loads = 0;
    const load = (release: Promise<void>) => async (seal: () => void) => {
      const n = ++loads;
      events.push(`start ${n}`);
      await release;
      seal();
      events.push(`read ${n}`);
      return n;
    };
    const a = reads.run("k", load(first.promise));
    await Promise.resolve();
    const b = reads.run("k", load(first.promise));
    first.open();
    await new Promise((resolve) => setImmediate(resolve));
    // Round 1 is sealed and done reading; callers now wait for round 2.
    const c = reads.run("k", load(second.promise));
    const d = reads.run("k", load(second.promise));
    expect(await a).toBe(1);
    expect(await b).toBe(1);
    second.open();
    expect(await c).toBe(2);
    expect(await d).toBe(2);
    expect(events).toEqual(["start 1", "read 1", "start 2", "read 2"]);
  });

  it("costs a burst of a thousand callers at most two loads, and keeps keys apart", async () => {
    const reads = new Coalesced<string, string>();
    let loads = 0;
    const load = async (seal: () => void) => {
      seal();
      loads++;
      await new Promise((resolve) => setTimeout(resolve, 5));
      return "page";
    };
    const results = await Promise.all(Array.from({ length: 1000 }, () => reads.run("k", load)));
    expect(new Set(results)).toEqual(new Set(["page"]));
    expect(loads).toBeLessThanOrEqual(2);
    loads = 0;
    await Promise.all([reads.run("x", load), reads.run("y", load)]);
    expect(loads).toBe(2);
  });

  it("gives a round's failure to that round's callers only", async () => {
    const reads = new Coalesced<string, number>();
    const held = gate<void>();
    const failing = reads.run("k", async (seal) => {
      seal();
      await held.promise;
      throw new Error("store down");
    });
    const joined = reads.run("k", async () => 0);
    await new Promise((resolve) => setImmediate(resolve));
    const next = reads.run("k", async (seal) => {
      seal();
      return 7;
    });
    held.open();
    await expect(failing).rejects.toThrow("store down");
    await expect(joined).rejects.toThrow("store down");
    expect(await next).toBe(7);
  });
});

describe("EncodedPage", () => {
  const json = JSON.stringify({ bars: Array.from({ length: 200 }, (_, i) => ({ ts: i * 15_000, close: 100 + i })) });

  it("makes each coding once, names each with a strong ETag derived from the content", async () => {
    const page = new EncodedPage(json);
    expect(page.etag("identity")).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
    expect(page.etag("br")).toBe(`${page.etag("identity").slice(0, -1)}-br"`);
    expect(page.etag("gzip")).toBe(`${page.etag("identity").slice(0, -1)}-gzip"`);
    expect(new EncodedPage(json).etag("identity")).toBe(page.etag("identity"));
    expect(new EncodedPage(json.replace("100", "101")).etag("identity")).not.toBe(page.etag("identity"));
    expect(page.body("br")).toBe(page.body("br"));
    await page.encodeAll();
    expect(brotliDecompressSync(await page.body("br")).toString()).toBe(json);
    expect(gunzipSync(await page.body("gzip")).toString()).toBe(json);
    expect(page.size).toBe(page.identity.length + (await page.body("br")).length + (await page.body("gzip")).length);
  });

  it("sends small pages uncompressed", () => {
    const small = new EncodedPage('{"bars":[]}');
    expect(small.codingFor("br")).toBe("identity");
    expect(new EncodedPage(json).codingFor("br")).toBe("br");
    expect(new EncodedPage(json).codingFor(null)).toBe("identity");
  });

  it("matches If-None-Match weakly, in lists, and *", () => {
    expect(matchesEtag('"a"', '"a"')).toBe(true);
    expect(matchesEtag('W/"a"', '"a"')).toBe(true);
    expect(matchesEtag('"b", "a"', '"a"')).toBe(true);
    expect(matchesEtag("*", '"a"')).toBe(true);
    expect(matchesEtag('"a-br"', '"a"')).toBe(false);
    expect(matchesEtag(undefined, '"a"')).toBe(false);
  });
});

describe("PageCache", () => {
  const entry = (symbol: string, lo: number, hi: number, bytes = 100): CachedPage => ({
    page: new EncodedPage("x".repeat(bytes)),
    symbol,
    lo,
    hi,
    immutable: false,
    bars: 1,
  });

  it("drops exactly the pages of the symbol whose range holds a new bar's ts", () => {
    const cache = new PageCache(10_000);
    cache.set("newest", entry("BTCUSDT", 1000, Infinity));
    cache.set("older", entry("BTCUSDT", 0, 999));
    cache.set("eth", entry("ETHUSDT", 1000, Infinity));
    expect(cache.dropAt("BTCUSDT", 1500)).toBe(1);
    expect(cache.get("newest")).toBeUndefined();
    expect(cache.get("older")).toBeDefined();
    expect(cache.get("eth")).toBeDefined();
    expect(cache.dropAt("BTCUSDT", 999)).toBe(1);
  });

  it("is bounded in bytes, evicting the least recently used page", () => {
    const cache = new PageCache(250);
    cache.set("a", entry("BTCUSDT", 0, 10));
    cache.set("b", entry("BTCUSDT", 20, 30));
    cache.get("a");
    cache.set("c", entry("BTCUSDT", 40, 50));
    expect(cache.get("b")).toBeUndefined();
    expect(cache.get("a")).toBeDefined();
    expect(cache.bytes).toBe(200);
    cache.set("huge", entry("BTCUSDT", 60, 70, 1000));
    expect(cache.get("huge")).toBeUndefined();
    expect(cache.dropAt("BTCUSDT", 65)).toBe(0);
  });
});
