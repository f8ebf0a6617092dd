import { Decimal } from "decimal.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ExactQuoteSum, ExactVolumeSum, isBeyondScaled, parseQuoteScaled, parseScaled, parseScaledBig, renderScaled, scaledFromNumber } from "../src/exact.ts";

const Exact = Decimal.clone({ precision: 80 });

describe("parseScaled", () => {
  it.each([
    ["37000.12000000", 3_700_012_000_000],
    ["0.00001000", 1000],
    ["0.00000001", 1],
    ["0", 0],
    ["12", 1_200_000_000],
    ["1.5", 150_000_000],
    ["0.123456780000", 12_345_678],
    ["90071992.54740991", Number.MAX_SAFE_INTEGER],
  ])("%s → %d units of 1e-8", (text, units) => {
    expect(parseScaled(text)).toBe(units);
  });

  it.each(["", "-1", "+1", "1e3", "1.", ".5", "1.2.3", "0.000000001", "1,5", " 1", "NaN", "90071992.54740992", "1".repeat(30)])(
    "rejects %j",
    (text) => {
      expect(parseScaled(text)).toBeNaN();
    },
  );

  it("agrees with decimal arithmetic for any 8-decimal string", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: BigInt(Number.MAX_SAFE_INTEGER) }), fc.integer({ min: 0, max: 8 }), (units, trim) => {
        const text = new Exact(units.toString()).div(1e8).toFixed(8);
        const trimmed = trim > 0 && /0{1,8}$/.test(text) ? text.replace(new RegExp(`0{1,${trim}}$`), "") : text;
        expect(parseScaled(trimmed.endsWith(".") ? trimmed.slice(0, -1) : trimmed)).toBe(Number(units));
      }),
    );
  });
});

describe("rendering", () => {
  it("renders the double nearest to the exact decimal", () => {
    expect(renderScaled(3_700_012_000_000)).toBe(37000.12);
    expect(renderScaled(30_000_000)).toBe(0.3);
    expect(renderScaled(0)).toBe(0);
    expect(renderScaled(1)).toBe(1e-8);
  });

  it("reads back an 8-decimal value from its JSON number", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000_000 * 1e8 }), (units) => {
        expect(scaledFromNumber(renderScaled(units))).toBe(units);
      }),
    );
  });

  it("parses quote volumes with up to 16 decimals exactly", () => {
    expect(parseQuoteScaled("4421.12345678")).toBe(44_211_234_567_800_000_000n);
    expect(parseQuoteScaled("0.0000000000000001")).toBe(1n);
    expect(parseQuoteScaled("7")).toBe(70_000_000_000_000_000n);
    for (const bad of ["", "-1", "1.", "1e5", "0.00000000000000001"]) expect(parseQuoteScaled(bad)).toBeNull();
  });
});

describe("values past 2^53 units", () => {
  it("tells a value too large to hold from a malformed one", () => {
    expect(isBeyondScaled("90071992.54740992")).toBe(true);
    expect(isBeyondScaled("1000000000")).toBe(true);
    expect(isBeyondScaled("90071992.54740991")).toBe(false);
    for (const malformed of ["1e9", "-100000000", "100000000.000000001", ""]) expect(isBeyondScaled(malformed)).toBe(false);
  });

  it("parses any 8-decimal value to BigInt units", () => {
    expect(parseScaledBig("123456789012.12345678")).toBe(12_345_678_901_212_345_678n);
    expect(parseScaledBig("1.50000000000")).toBe(150_000_000n);
    for (const bad of ["", "1.", "1.000000001", "x"]) expect(parseScaledBig(bad)).toBeNull();
  });

  it("sums volumes exactly whatever their size", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), { maxLength: 200 }), (quantities) => {
        const sum = new ExactVolumeSum();
        for (const quantity of quantities) sum.add(quantity);
        const exact = quantities.reduce((total, q) => total.plus(q), new Exact(0)).div(1e8);
        expect(sum.render()).toBe(Number(exact.toFixed(8)));
      }),
    );
  });
});

describe("ExactQuoteSum", () => {
  it("sums price × quantity without drift, for small and very large factors alike", () => {
    const factor = fc.oneof(
      fc.integer({ min: 0, max: 2 ** 40 }),
      fc.integer({ min: 2 ** 47, max: Number.MAX_SAFE_INTEGER }),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(factor, factor), { maxLength: 300 }), (products) => {
        const sum = new ExactQuoteSum();
        let reference = 0n;
        let decimal = new Exact(0);
        for (const [price, quantity] of products) {
          sum.addProduct(price, quantity);
          reference += BigInt(price) * BigInt(quantity);
          decimal = decimal.plus(new Exact(price).div(1e8).times(new Exact(quantity).div(1e8)));
        }
        expect(sum.toBigInt()).toBe(reference);
        expect(sum.render()).toBe(Number(decimal.toString()));
      }),
    );
  });

  it("adds kline quote volumes already in 1e-16 units", () => {
    const sum = new ExactQuoteSum();
    sum.addProduct(3_700_012_000_000, 10_000); // 37000.12 × 0.0001
    sum.addScaled(parseQuoteScaled("0.1")!);
    expect(sum.render()).toBe(3.800012);
  });
});
