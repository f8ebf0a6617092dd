import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { labelledRows, timeOrderedSplit, TrainingDataError } from "../src/index.ts";

const MINUTE = 60_000;

describe("time-ordered split", () => {
  it("holds out the newest 20% and drops training rows whose horizon reaches the holdout", () => {
    const ts = Array.from({ length: 10 }, (_, i) => i * MINUTE);
    // Holdout = rows 8, 9 (first holdout ts 8 min); a 3 min horizon keeps rows with ts + 3 min < 8 min: 0..4.
    expect(timeOrderedSplit(ts, { holdoutFraction: 0.2, horizonMs: 3 * MINUTE })).toEqual({
      trainRows: 5,
      embargoedRows: 3,
      holdoutStart: 8,
      holdoutRows: 2,
      firstHoldoutTs: 8 * MINUTE,
    });
    // A horizon ending exactly at the first holdout ts reaches it: row 5 (5 min + 3 min = 8 min) is dropped too.
    expect(timeOrderedSplit(ts, { holdoutFraction: 0.2, horizonMs: 3 * MINUTE - 1 }).trainRows).toBe(6);
  });

  it("drops rows that share the first holdout ts even with no horizon", () => {
    const ts = [0, 1, 2, 2, 2];
    expect(timeOrderedSplit(ts, { holdoutFraction: 0.4, horizonMs: 0 })).toMatchObject({ trainRows: 2, embargoedRows: 1, holdoutRows: 2 });
  });

  it("refuses unsorted rows, no holdout and no training rows with a TrainingDataError", () => {
    expect(() => timeOrderedSplit([0, 2, 1], { holdoutFraction: 0.5, horizonMs: 0 })).toThrow(/sorted by ts: row 2/);
    expect(() => timeOrderedSplit([0, 1, 2, 3], { holdoutFraction: 0.2, horizonMs: 0 })).toThrow(/no holdout/);
    expect(() => timeOrderedSplit([0, 1, 2, 3, 4], { holdoutFraction: 0.2, horizonMs: 10 })).toThrow(TrainingDataError);
    expect(() => timeOrderedSplit([5, 5, 5, 5, 5], { holdoutFraction: 0.2, horizonMs: 0 })).toThrow(/no training rows/);
  });

  it("for any sorted ts: holdout = newest floor(n·f) rows, no training horizon reaches it, the training set is maximal", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 10_000 }), { minLength: 1, maxLength: 200 }),
        fc.double({ min: 0.01, max: 0.99, noNaN: true }),
        fc.integer({ min: 0, max: 2_000 }),
        (unsorted, holdoutFraction, horizonMs) => {
          const ts = [...unsorted].sort((a, b) => a - b);
          let split;
          try {
            split = timeOrderedSplit(ts, { holdoutFraction, horizonMs });
          } catch (error) {
            expect(error).toBeInstanceOf(TrainingDataError);
            const holdoutRows = Math.floor(ts.length * holdoutFraction);
            expect(holdoutRows < 1 || ts[0]! + horizonMs >= ts[ts.length - holdoutRows]!).toBe(true);
            return;
          }
          expect(split.holdoutRows).toBe(Math.floor(ts.length * holdoutFraction));
          expect(split.holdoutStart).toBe(ts.length - split.holdoutRows);
          expect(split.trainRows + split.embargoedRows + split.holdoutRows).toBe(ts.length);
          expect(split.firstHoldoutTs).toBe(ts[split.holdoutStart]);
          for (let i = 0; i < split.trainRows; i++) expect(ts[i]! + horizonMs).toBeLessThan(split.firstHoldoutTs);
          for (let i = split.trainRows; i < split.holdoutStart; i++) expect(ts[i]! + horizonMs).toBeGreaterThanOrEqual(split.firstHoldoutTs);
        },
      ),
      { seed: 20261201, numRuns: 300 },
    );
  });
});

describe("labelled rows", () => {
  it("sort by ts, keeping the export order within one ts, and refuse a wrong embedding length", () => {
    const rows = [
      { symbol: "BTCUSDT", ts: 30_000, embedding: [3, 3], label: 1 as const },
      { symbol: "BTCUSDT", ts: 15_000, embedding: [1, 1], label: 0 as const },
      { symbol: "ETHUSDT", ts: 15_000, embedding: [2, 2], label: 1 as const },
    ];
    const columns = labelledRows(rows, 2);
    expect([...columns.ts]).toEqual([15_000, 15_000, 30_000]);
    expect([...columns.embeddings]).toEqual([1, 1, 2, 2, 3, 3]);
    expect([...columns.labels]).toEqual([0, 1, 1]);
    expect(() => labelledRows(rows, 3)).toThrow("row 1 (BTCUSDT 15000): embedding has 2 numbers, expected 3");
  });
});
