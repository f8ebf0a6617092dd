/**
 * Embeddings as bytes and text without losing a bit: the SQLite BLOB form, and Postgres' text form of `real[]`
 * (what the Supabase Data API returns for `embedding::text`).
 */

/** float32 values as a BLOB: 4 bytes each, little-endian whatever the machine, so the file is portable. */
export function float32Blob(values: Float32Array): Buffer {
  const blob = Buffer.alloc(values.length * 4);
  values.forEach((value, i) => blob.writeFloatLE(value, i * 4));
  return blob;
}

export function float32sOfBlob(blob: Uint8Array): Float32Array {
  if (blob.byteLength % 4 !== 0) throw new Error(`an embedding BLOB holds 4 bytes per value, got ${blob.byteLength} bytes`);
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  return Float32Array.from({ length: blob.byteLength / 4 }, (_, i) => view.getFloat32(i * 4, true));
}

/** Postgres' text form of a one-dimensional `real[]`, like `{0.1,-2.5e-05,3}`, parsed exactly. */
export function float32sOfPgArray(text: string): Float32Array {
  if (!text.startsWith("{") || !text.endsWith("}")) throw new Error(`expected a Postgres array like {1,2.5}, got ${JSON.stringify(text.slice(0, 40))}`);
  const body = text.slice(1, -1);
  return body === "" ? new Float32Array(0) : Float32Array.from(body.split(","), parseFloat32);
}

/**
 * The float32 nearest to a decimal string, as Postgres' float4in (strtof) reads it. `Math.fround(Number(text))`
 * rounds twice, and is wrong when the double nearest to the text is exactly halfway between two float32 values
 * while the text itself is not (like "1.00000005960464477550"); that case is settled on the exact decimal.
 */
export function parseFloat32(text: string): number {
  const double = Number(text);
  const rounded = Math.fround(double);
  if (rounded === double || !Number.isFinite(rounded)) return rounded;
  const other = nextFloat32(rounded, double > rounded ? 1 : -1);
  if (!Number.isFinite(other) || (rounded + other) / 2 !== double) return rounded;
  const side = compareDecimalWithDouble(text, double);
  // On an exact tie fround already chose the even neighbour, as strtof does.
  if (side === 0) return rounded;
  return side > 0 === other > rounded ? other : rounded;
}

const f32 = new Float32Array(1);
const bits = new Uint32Array(f32.buffer);

/** The adjacent float32 towards +Infinity (direction 1) or -Infinity (-1). */
function nextFloat32(value: number, direction: 1 | -1): number {
  if (value === 0) return direction * 2 ** -149;
  f32[0] = value;
  // For negative values a larger bit pattern is a larger magnitude, so moving up shrinks it.
  bits[0]! += (value > 0) === (direction > 0) ? 1 : -1;
  return f32[0]!;
}

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/** Sign of (decimal text − double), computed exactly; both are finite and of the same sign. */
function compareDecimalWithDouble(text: string, double: number): number {
  const match = DECIMAL.exec(text.trim());
  if (!match) throw new Error(`not a decimal number: ${JSON.stringify(text)}`);
  const [, sign = "", whole = "", fraction = "", exponent = "0"] = match;
  let digits = BigInt(`${whole}${fraction}` || "0");
  let exp10 = Number(exponent) - fraction.length;
  // double = mantissa · 2^exp2, from its IEEE-754 fields.
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(double));
  const raw = view.getBigUint64(0);
  const biased = Number(raw >> 52n);
  let mantissa = raw & ((1n << 52n) - 1n);
  if (biased !== 0) mantissa |= 1n << 52n;
  let exp2 = (biased === 0 ? 1 : biased) - 1075;
  // Scale both to integers: digits · 10^exp10 against mantissa · 2^exp2.
  if (exp10 < 0) {
    mantissa *= 10n ** BigInt(-exp10);
    exp10 = 0;
  }
  if (exp2 < 0) {
    digits *= 1n << BigInt(-exp2);
    exp2 = 0;
  }
  const left = digits * 10n ** BigInt(exp10);
  const right = mantissa << BigInt(exp2);
  const magnitude = left === right ? 0 : left > right ? 1 : -1;
  return sign === "-" ? -magnitude : magnitude;
}
