/**
 * Exact decimal arithmetic for bars. Binance writes prices and quantities as decimal strings with at most 8
 * decimals, so they are held as integers of 1e-8 units ("scaled"), which stay exact in a double up to 2^53
 * (90,071,992.54740991): a single price or quantity beyond that is refused (`isBeyondScaled`). Sums may go past it:
 * volumes are summed in a double while the sum stays below 2^53 and carried into a BigInt when it would not
 * (`ExactVolumeSum`). Quote volume (Σ price·quantity) has 16 decimals and outgrows 2^53 at once; it is summed in
 * base-2^24 limbs of plain numbers (cheaper than a BigInt per trade) and turned into a BigInt only when a bar is
 * rendered.
 */

const SCALE_DIGITS = 8;
const SCALE = 10 ** SCALE_DIGITS;
const QUOTE_DIGITS = 2 * SCALE_DIGITS;

/**
 * A non-negative decimal string with at most 8 decimals → integer count of 1e-8 units, or NaN when the string is
 * not such a number or the result would not be exact. On the hot path of every trade, hence the hand-rolled loop.
 */
export function parseScaled(text: string): number {
  const length = text.length;
  if (length === 0 || length > 26) return NaN;
  let value = 0;
  let decimals = -1;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code === 46 /* . */) {
      if (decimals >= 0 || i === 0 || i === length - 1) return NaN;
      decimals = 0;
      continue;
    }
    if (code < 48 || code > 57) return NaN;
    if (decimals >= 0 && ++decimals > SCALE_DIGITS) {
      // Trailing zeros beyond 8 decimals are harmless; any other digit would need more precision than we keep.
      if (code !== 48) return NaN;
      decimals = SCALE_DIGITS;
      continue;
    }
    value = value * 10 + (code - 48);
  }
  for (let d = decimals < 0 ? 0 : decimals; d < SCALE_DIGITS; d++) value *= 10;
  return Number.isSafeInteger(value) ? value : NaN;
}

/** A scaled integer → the JSON number of its decimal value (the double nearest to the exact decimal). */
export function renderScaled(scaled: number): number {
  const whole = Math.floor(scaled / SCALE);
  const fraction = scaled - whole * SCALE;
  return Number(`${whole}.${String(fraction).padStart(SCALE_DIGITS, "0")}`);
}

/** A JSON number written from an 8-decimal value (a resumed bar's close) → its scaled integer. */
export function scaledFromNumber(value: number): number {
  return parseScaled(value.toFixed(SCALE_DIGITS));
}

/**
 * A non-negative decimal string → BigInt count of 10^-digits units, or null when it is not such a number or has
 * more decimals than that (trailing zeros aside).
 */
function parseUnits(text: string, digits: number): bigint | null {
  const match = /^(\d+)(?:\.(\d+))?$/.exec(text);
  if (!match) return null;
  const [, whole = "0", fraction = ""] = match;
  if (fraction.length > digits && !/^0+$/.test(fraction.slice(digits))) return null;
  return BigInt(whole + fraction.slice(0, digits).padEnd(digits, "0"));
}

/** A non-negative decimal string with at most 16 decimals → BigInt count of 1e-16 units, or null. */
export function parseQuoteScaled(text: string): bigint | null {
  return parseUnits(text, QUOTE_DIGITS);
}

/** A non-negative decimal string with at most 8 decimals → BigInt count of 1e-8 units (no upper bound), or null. */
export function parseScaledBig(text: string): bigint | null {
  return parseUnits(text, SCALE_DIGITS);
}

/** Whether `text` is a well-formed 8-decimal value that `parseScaled` refuses only for being 2^53 units or more. */
export function isBeyondScaled(text: string): boolean {
  const units = parseScaledBig(text);
  return units !== null && units > BigInt(Number.MAX_SAFE_INTEGER);
}

function renderBigScaled(value: bigint, digits: number): number {
  const text = value.toString().padStart(digits + 1, "0");
  return Number(`${text.slice(0, -digits)}.${text.slice(-digits)}`);
}

/** Σ of scaled integers (a volume), exact past 2^53. */
export class ExactVolumeSum {
  /** The sum so far, or the part of it added since the last carry: always a safe integer. */
  private small = 0;
  private big = 0n;

  add(units: number): void {
    const sum = this.small + units;
    // A true sum above 2^53 − 1 rounds to 2^53 or more, never below: the test is exact.
    if (sum <= Number.MAX_SAFE_INTEGER) {
      this.small = sum;
    } else {
      this.big += BigInt(this.small);
      this.small = units;
    }
  }

  addBig(units: bigint): void {
    this.big += units;
  }

  /** The JSON number of the exact sum. */
  render(): number {
    return this.big === 0n ? renderScaled(this.small) : renderBigScaled(this.big + BigInt(this.small), SCALE_DIGITS);
  }
}

const LIMB = 2 ** 24;
const LIMB_BITS = 24n;
/** Factors below this split into two limbs whose cross products stay far below 2^53. */
const LIMB_SAFE_FACTOR = 2 ** 48;

/** Σ price·quantity of scaled integers, exact, in 1e-16 units. */
export class ExactQuoteSum {
  private l0 = 0;
  private l1 = 0;
  private l2 = 0;
  private l3 = 0;
  /** Products of factors too large for the limb path (prices above 2.8 million): rare, so BigInt is fine. */
  private big = 0n;

  addProduct(price: number, quantity: number): void {
    if (price >= LIMB_SAFE_FACTOR || quantity >= LIMB_SAFE_FACTOR) {
      this.big += BigInt(price) * BigInt(quantity);
      return;
    }
    const p1 = Math.floor(price / LIMB);
    const p0 = price - p1 * LIMB;
    const q1 = Math.floor(quantity / LIMB);
    const q0 = quantity - q1 * LIMB;
    this.l0 += p0 * q0;
    this.l1 += p0 * q1 + p1 * q0;
    this.l2 += p1 * q1;
    this.carry();
  }

  /** Adds a value already in 1e-16 units (a kline's quote volume). */
  addScaled(value: bigint): void {
    this.big += value;
  }

  private carry(): void {
    let c = Math.floor(this.l0 / LIMB);
    this.l0 -= c * LIMB;
    this.l1 += c;
    c = Math.floor(this.l1 / LIMB);
    this.l1 -= c * LIMB;
    this.l2 += c;
    c = Math.floor(this.l2 / LIMB);
    this.l2 -= c * LIMB;
    this.l3 += c;
  }

  toBigInt(): bigint {
    let limbs = BigInt(this.l3);
    for (const limb of [this.l2, this.l1, this.l0]) limbs = (limbs << LIMB_BITS) + BigInt(limb);
    return limbs + this.big;
  }

  /** The JSON number of the exact sum. */
  render(): number {
    return renderBigScaled(this.toBigInt(), QUOTE_DIGITS);
  }
}
