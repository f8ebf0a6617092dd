import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { float32Blob, float32sOfBlob, float32sOfPgArray, parseFloat32 } from "../src/store/float32.ts";

fc.configureGlobal({ seed: 20_261_203, numRuns: 2000 });

/** Any finite float32, from its bit pattern. */
const finiteFloat32 = fc
  .integer({ min: 0, max: 2 ** 32 - 1 })
  .map((bits) => new Float32Array(Uint32Array.of(bits).buffer)[0]!)
  .filter(Number.isFinite);

describe("parseFloat32", () => {
  it("reads back every float32 from its shortest decimal and from Postgres' exponent form", () => {
    fc.assert(
      fc.property(finiteFloat32, (value) => {
        expect(Object.is(parseFloat32(String(value)), value)).toBe(true);
        expect(Object.is(parseFloat32(value.toExponential(8)), value)).toBe(true);
      }),
    );
  });

  // 1 + 2^-24 lies halfway between 1 and 1 + 2^-23; decimals this close to it become that very double.
  it.each([
    ["1.00000005960464477550", 1 + 2 ** -23, "above the midpoint: the upper neighbour, where fround of the double ties to 1"],
    ["1.00000005960464477539", 1, "below the midpoint"],
    ["1.000000059604644775390625", 1, "on the midpoint: the even neighbour"],
    ["1.000000178813934326171875", 1 + 2 ** -22, "on the next midpoint: the even neighbour, here the upper"],
    ["1.00000017881393432617", 1 + 2 ** -23, "just below it, where fround of the double ties upwards"],
    ["-1.00000005960464477550", -(1 + 2 ** -23), "negative, beyond the midpoint"],
    ["7.0064923216240854e-46", 2 ** -149, "just above half the smallest subnormal"],
    ["7.006492321624085e-46", 0, "just below it"],
  ])("%s → %d (%s)", (text, expected) => {
    expect(Object.is(parseFloat32(text), expected)).toBe(true);
  });

  it("finds the cases where rounding the double again would be wrong", () => {
    expect(Math.fround(Number("1.00000005960464477550"))).toBe(1);
    expect(Math.fround(Number("1.00000017881393432617"))).toBe(1 + 2 ** -22);
  });
});

describe("Postgres real[] text", () => {
  it("parses the array form, empty included", () => {
    expect(Array.from(float32sOfPgArray("{1,-2.5e-05,3.4028235e+38,1e-45}"))).toEqual([1, Math.fround(-2.5e-5), 3.4028234663852886e38, 2 ** -149]);
    expect(float32sOfPgArray("{}")).toHaveLength(0);
    expect(() => float32sOfPgArray("1,2")).toThrow(/expected a Postgres array/);
  });
});

describe("embedding BLOBs", () => {
  it("are 4 little-endian bytes per value and read back bit for bit", () => {
    expect(float32Blob(Float32Array.of(1, -2)).toString("hex")).toBe("0000803f000000c0");
    fc.assert(
      fc.property(fc.array(finiteFloat32, { maxLength: 64 }), (values) => {
        const embedding = Float32Array.from(values);
        expect(Buffer.from(float32sOfBlob(float32Blob(embedding)).buffer)).toEqual(Buffer.from(embedding.buffer));
      }),
      { numRuns: 200 },
    );
    expect(() => float32sOfBlob(Buffer.alloc(6))).toThrow(/4 bytes per value, got 6 bytes/);
  });
});
