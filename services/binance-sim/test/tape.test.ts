import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { BAR_MS } from "@gapfill/contracts";
import { aggTradeRow, scaledDecimal } from "../src/format.ts";
import { marketSpec } from "../src/market.ts";
import { Tape } from "../src/tape.ts";
import { FIXED_NOW, HOUR_MS, sha256 } from "./support.ts";
import { TYPESCRIPT_NODE_ARGS } from "@gapfill/kit";

function tapeOf(hours: number, seed = 1, now = FIXED_NOW): Tape {
  const tape = new Tape({ spec: marketSpec("BTCUSDT"), seed, startMs: now - hours * HOUR_MS, expectedTrades: hours * 100_000 });
  tape.extendTo(now);
  return tape;
}

const tapeHash = (tape: Tape, now: number) => sha256(...tape.columns(tape.firstIndexAfter(now)));

/** One day of tape, shared by the checks below (generating it takes about a second). */
const day = tapeOf(24);

describe("tape: deterministic", () => {
  it("is byte-identical for the same seed and now, in this process and in another one", () => {
    expect(tapeHash(tapeOf(2), FIXED_NOW)).toBe(tapeHash(tapeOf(2), FIXED_NOW));
    const script = fileURLToPath(new URL("./tape-hash.fixture.ts", import.meta.url));
    const child = spawnSync(process.execPath, [...TYPESCRIPT_NODE_ARGS, script, "1", String(FIXED_NOW)], { encoding: "utf8" });
    expect(child.stderr).toBe("");
    expect(child.stdout.trim()).toBe(tapeHash(day, FIXED_NOW));
  });

  it("differs for another seed, and per symbol", () => {
    const hash = tapeHash(tapeOf(2), FIXED_NOW);
    expect(tapeHash(tapeOf(2, 2), FIXED_NOW)).not.toBe(hash);
    const eth = new Tape({ spec: marketSpec("ETHUSDT"), seed: 1, startMs: FIXED_NOW - 2 * HOUR_MS });
    eth.extendTo(FIXED_NOW);
    expect(tapeHash(eth, FIXED_NOW)).not.toBe(hash);
  });

  it("does not depend on how far ahead, or in how many steps, it is generated", () => {
    const stepwise = new Tape({ spec: marketSpec("BTCUSDT"), seed: 1, startMs: FIXED_NOW - 2 * HOUR_MS });
    for (let t = FIXED_NOW - 2 * HOUR_MS; t <= FIXED_NOW + HOUR_MS; t += 997) stepwise.extendTo(t);
    const once = tapeOf(2);
    once.extendTo(FIXED_NOW + HOUR_MS);
    expect(tapeHash(stepwise, FIXED_NOW + HOUR_MS)).toBe(tapeHash(once, FIXED_NOW + HOUR_MS));
  });
});

describe("tape: a realistic day of BTCUSDT", () => {
  const tape = day;
  const n = tape.firstIndexAfter(FIXED_NOW);
  const perSecond = new Map<number, number>();
  let quietStretches = 0;
  let audits = 0;
  let onBoundary = 0;
  let beforeBoundary = 0;
  let previousValid = -1;
  let rawIdsContiguous = true;
  let timesOrdered = true;
  /** Per traded 15 s bar, its [low, high] in ticks; and the day's lowest and highest price. */
  const barRanges = new Map<number, [number, number]>();
  let dayLow = Infinity;
  let dayHigh = -Infinity;
  for (let i = 0; i < n; i++) {
    const t = tape.timeAt(i);
    perSecond.set(Math.floor(t / 1000), (perSecond.get(Math.floor(t / 1000)) ?? 0) + 1);
    if (i > 0) {
      if (t < tape.timeAt(i - 1)) timesOrdered = false;
      if (t - tape.timeAt(i - 1) > 15_000) quietStretches++;
    }
    if (t % BAR_MS === 0) onBoundary++;
    if ((t + 1) % BAR_MS === 0) beforeBoundary++;
    if (tape.isAuditAt(i)) {
      audits++;
      continue;
    }
    if (previousValid >= 0 && tape.firstTradeIdAt(i) !== tape.lastTradeIdAt(previousValid) + 1) rawIdsContiguous = false;
    previousValid = i;
    const price = tape.priceTicksAt(i);
    const range = barRanges.get(Math.floor(t / BAR_MS));
    if (range) {
      range[0] = Math.min(range[0], price);
      range[1] = Math.max(range[1], price);
    } else barRanges.set(Math.floor(t / BAR_MS), [price, price]);
    dayLow = Math.min(dayLow, price);
    dayHigh = Math.max(dayHigh, price);
  }
  const counts = [...perSecond.values()].sort((a, b) => a - b);

  it("trades around 20 a second, with bursts of hundreds in a second and quiet stretches over 15 s", () => {
    const meanPerSecond = n / (24 * 3600);
    expect(meanPerSecond).toBeGreaterThan(15);
    expect(meanPerSecond).toBeLessThan(35);
    expect(counts[counts.length >> 1]).toBeGreaterThanOrEqual(10);
    expect(counts.filter((count) => count >= 200).length).toBeGreaterThan(50);
    expect(quietStretches).toBeGreaterThan(50);
  });

  it("moves like BTC on a chart: a median 15 s bar range of tens of dollars, a day's range of a few percent", () => {
    const dollars = [...barRanges.values()].map(([low, high]) => (high - low) / 100).sort((a, b) => a - b);
    const median = dollars[dollars.length >> 1]!;
    expect(median).toBeGreaterThan(10);
    expect(median).toBeLessThan(50);
    expect(dollars[Math.floor(dollars.length * 0.99)]).toBeLessThan(400);
    const dayRange = (dayHigh - dayLow) / dayLow;
    expect(dayRange).toBeGreaterThan(0.01);
    expect(dayRange).toBeLessThan(0.15);
  });

  it("keeps times ordered, ids sequential and raw trade ids contiguous", () => {
    expect(timesOrdered).toBe(true);
    expect(rawIdsContiguous).toBe(true);
    expect(tape.aggId(n - 1) - tape.aggId(0)).toBe(n - 1);
    expect(tape.firstAggId).toBeGreaterThan(2 ** 31);
  });

  it("has trades exactly on bar boundaries and on their last millisecond, and a few audit records", () => {
    expect(onBoundary).toBeGreaterThan(100);
    expect(beforeBoundary).toBeGreaterThan(100);
    expect(audits).toBeGreaterThan(24);
    expect(audits).toBeLessThan(1000);
  });

  it("writes prices on the 0.01 tick and quantities on the 0.00001 lot with 8 decimals, audits as 0 / -1", () => {
    const audit = Array.from({ length: n }, (_, i) => i).find((i) => tape.isAuditAt(i))!;
    expect(aggTradeRow(tape, audit)).toMatchObject({ p: "0", q: "0", f: -1, l: -1 });
    for (let i = 0; i < n; i += 997) {
      if (tape.isAuditAt(i)) continue;
      const row = aggTradeRow(tape, i);
      expect(row.p).toMatch(/^[1-9]\d*\.\d{2}000000$/);
      expect(row.q).toMatch(/^\d+\.\d{5}000$/);
      expect(Number(row.q)).toBeGreaterThan(0);
      expect(row.l).toBeGreaterThanOrEqual(row.f);
    }
  });
});

describe("scaledDecimal", () => {
  it("moves the decimal point exactly and pads to Binance's 8 decimals", () => {
    expect(scaledDecimal(3_700_012, 2)).toBe("37000.12000000");
    expect(scaledDecimal(120, 5)).toBe("0.00120000");
    expect(scaledDecimal(5, 5)).toBe("0.00005000");
    expect(scaledDecimal(0, 5)).toBe("0.00000000");
    expect(scaledDecimal(123_456_789_012_345_678n, 7)).toBe("12345678901.23456780");
    expect(scaledDecimal(-15, 2)).toBe("-0.15000000");
  });
});
