import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BAR_MS,
  DEFAULT_EMBED_EVERY_BARS,
  DEFAULT_EMBED_WINDOW_BARS,
  EMBEDDING_DIM,
  embeddingWindow,
  embeddingWindowStart,
  FEATURE_LAYOUT,
  flatBar,
  isEmbeddingBar,
} from "../src/index.ts";

fc.configureGlobal({ seed: 20_261_202, numRuns: 200 });

const T0 = Date.UTC(2024, 0, 1);
const barsFrom = (firstTs: number, count: number) => Array.from({ length: count }, (_, i) => flatBar("BTCUSDT", firstTs + i * BAR_MS, 1));

describe("the embedding layout", () => {
  it("names each component once; EMBEDDING_DIM is its length", () => {
    expect(new Set(FEATURE_LAYOUT).size).toBe(FEATURE_LAYOUT.length);
    expect(EMBEDDING_DIM).toBe(FEATURE_LAYOUT.length);
  });
});

describe("which bars get an embedding", () => {
  it("by default the bar opening at second 45 of each minute, the one that closes on the minute", () => {
    const minute = T0 + 7 * 60_000;
    expect([0, 15_000, 30_000, 45_000].map((s) => isEmbeddingBar(minute + s, DEFAULT_EMBED_EVERY_BARS))).toEqual([false, false, false, true]);
  });

  it("exactly one of any `every` consecutive bars, decided by ts alone", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2e8 }), fc.integer({ min: 1, max: 500 }), (firstBar, every) => {
        const run = Array.from({ length: every }, (_, i) => (firstBar + i) * BAR_MS);
        expect(run.filter((ts) => isEmbeddingBar(ts, every))).toHaveLength(1);
        expect(isEmbeddingBar(firstBar * BAR_MS, every)).toBe(isEmbeddingBar((firstBar + every) * BAR_MS, every));
      }),
    );
  });

  it("every bar when every is 1; a bar count must be a positive integer", () => {
    expect(isEmbeddingBar(T0, 1)).toBe(true);
    for (const bad of [0, -4, 1.5, Number.NaN]) {
      expect(() => isEmbeddingBar(T0, bad)).toThrow(/everyBars: expected a positive integer/);
      expect(() => embeddingWindowStart(T0, bad)).toThrow(/windowBars: expected a positive integer/);
    }
  });
});

describe("the window of an embedding", () => {
  it("is the windowBars bars ending with the bar at ts", () => {
    expect(embeddingWindowStart(T0 + 239 * BAR_MS, DEFAULT_EMBED_WINDOW_BARS)).toBe(T0);
    const series = barsFrom(T0, 300);
    expect(embeddingWindow(series, T0 + 250 * BAR_MS, 240)).toEqual(series.slice(11, 251));
    expect(embeddingWindow(series, T0 + 239 * BAR_MS, 240)).toEqual(series.slice(0, 240));
    expect(embeddingWindow(series, T0, 1)).toEqual([series[0]]);
  });

  it("is null until the series holds all of it", () => {
    const series = barsFrom(T0, 300);
    expect(embeddingWindow(series, T0 + 238 * BAR_MS, 240)).toBeNull();
    expect(embeddingWindow(series, T0 + 300 * BAR_MS, 240)).toBeNull();
    expect(embeddingWindow([], T0, 1)).toBeNull();
    // A hole inside the window, or a ts between bars.
    const holed = [...series.slice(0, 100), ...series.slice(101)];
    expect(embeddingWindow(holed, T0 + 299 * BAR_MS, 240)).toBeNull();
    expect(embeddingWindow(holed, T0 + 299 * BAR_MS, 199)).toHaveLength(199);
    expect(embeddingWindow(series, T0 + 250 * BAR_MS + 1, 10)).toBeNull();
  });
});
