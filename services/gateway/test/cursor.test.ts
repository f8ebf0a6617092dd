import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { BAR_MS } from "@gapfill/contracts";
import { cursorKeyFrom, decodeCursor, encodeCursor, type PageCursor } from "../src/cursor.ts";

const key = cursorKeyFrom("test deployment");
const barTs = fc.integer({ min: 0, max: 4_102_444_800_000 / BAR_MS }).map((n) => n * BAR_MS);
const cursorArb: fc.Arbitrary<PageCursor> = fc.record({
  symbol: fc.constantFrom("BTCUSDT", "ETHUSDT", "X1"),
  before: barTs,
  fromTs: fc.option(barTs, { nil: null }),
  toTs: fc.option(barTs, { nil: null }),
});

describe("bootstrap cursor", () => {
  it("round-trips every cursor", () => {
    fc.assert(
      fc.property(cursorArb, (cursor) => {
        expect(decodeCursor(encodeCursor(cursor, key), key)).toEqual(cursor);
      }),
    );
  });

  it("detects any single-character edit", () => {
    fc.assert(
      fc.property(cursorArb, fc.nat(), fc.constantFrom(..."ABCxyz019-_."), (cursor, at, replacement) => {
        const text = encodeCursor(cursor, key);
        const index = at % text.length;
        fc.pre(text[index] !== replacement);
        const edited = text.slice(0, index) + replacement + text.slice(index + 1);
        expect(decodeCursor(edited, key)).toBeNull();
      }),
    );
  });

  it("refuses cursors of another deployment and arbitrary strings", () => {
    const cursor = { symbol: "BTCUSDT", before: 15_000 * 1000, fromTs: null, toTs: null };
    expect(decodeCursor(encodeCursor(cursor, cursorKeyFrom("other")), key)).toBeNull();
    fc.assert(
      fc.property(fc.string(), (text) => {
        expect(decodeCursor(text, key)).toBeNull();
      }),
    );
  });
});
