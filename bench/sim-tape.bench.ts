/**
 * Binance simulator start-up: how long a 24 h BTCUSDT tape takes to generate, and what it costs in memory, against
 * the floor of the same number of trades made of raw seeded draws only (8 uniform draws + 6 typed-array writes per
 * trade: the randomness and storage any generator of this tape must pay). Also `startSim()` for 24 h of history
 * (tape + HTTP/WS server listening), and the decimal.js ground truth of the whole day against a floor that sums the
 * same quantities as plain floats (fast, not exact).
 *
 * `npm run bench -- sim-tape` (about a minute; 2 noisy cores: medians of 5 runs and ratios).
 */
import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import { aggTradeRow } from "../services/binance-sim/src/format.ts";
import { startSim } from "../services/binance-sim/src/index.ts";
import { marketSpec } from "../services/binance-sim/src/market.ts";
import { Tape } from "../services/binance-sim/src/tape.ts";
import { referenceBars } from "../services/binance-sim/src/truth.ts";

const RUNS = 5;
const NOW = 1_700_000_000_000;
const DAY_MS = 24 * 3_600_000;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;

function timed<T>(work: () => T): { ms: number; value: T } {
  const started = performance.now();
  const value = work();
  return { ms: performance.now() - started, value };
}

function generateDay(): Tape {
  const tape = new Tape({ spec: marketSpec("BTCUSDT"), seed: 1, startMs: NOW - DAY_MS, expectedTrades: 2_200_000 });
  tape.extendTo(NOW);
  return tape;
}

/** The floor: the same count of trades as raw draws into the same kind of columns. */
function rawDraws(trades: number): number {
  const rng = xoroshiro128plus(1);
  const times = new Float64Array(trades);
  const prices = new Int32Array(trades);
  const lots = new Int32Array(trades);
  const raw = new Float64Array(trades);
  const counts = new Uint16Array(trades);
  const flags = new Uint8Array(trades);
  let t = 0;
  for (let i = 0; i < trades; i++) {
    t += uniformFloat64(rng) * 90;
    times[i] = Math.floor(t);
    prices[i] = 6_700_000 + Math.floor(uniformFloat64(rng) * 100) + Math.floor(uniformFloat64(rng) * 100);
    lots[i] = 1 + Math.floor(uniformFloat64(rng) * 1000) + Math.floor(uniformFloat64(rng) * 10);
    raw[i] = i + uniformFloat64(rng);
    counts[i] = 1 + Math.floor(uniformFloat64(rng) * 3);
    flags[i] = uniformFloat64(rng) < 0.5 ? 1 : 0;
  }
  return times[trades - 1]! + prices[0]! + lots[0]! + raw[0]! + counts[0]! + flags[0]!;
}

const generation: number[] = [];
const floor: number[] = [];
let trades = 0;
for (let run = 0; run < RUNS; run++) {
  const day = timed(generateDay);
  trades = day.value.firstIndexAfter(NOW);
  generation.push(day.ms);
  floor.push(timed(() => rawDraws(trades)).ms);
}
const tapeBytes = generateDay()
  .columns()
  .reduce((sum, column) => sum + column.byteLength, 0);
console.log(`24 h tape: ${trades} aggregate trades, ${(tapeBytes / 1e6).toFixed(1)} MB of columns`);
console.log(`  generate: median ${median(generation).toFixed(0)} ms (${((trades / median(generation)) * 1000 / 1e6).toFixed(2)} M trades/s)`);
console.log(`  floor (raw draws + writes): median ${median(floor).toFixed(0)} ms`);
console.log(`  ratio generate / floor: ${(median(generation) / median(floor)).toFixed(2)}`);

const startups: number[] = [];
const arrayBufferGrowth: number[] = [];
for (let run = 0; run < 3; run++) {
  const buffersBefore = process.memoryUsage().arrayBuffers;
  const started = performance.now();
  const sim = await startSim({ now: NOW, speed: 0, historyHours: 24 });
  startups.push(performance.now() - started);
  arrayBufferGrowth.push(process.memoryUsage().arrayBuffers - buffersBefore);
  await sim.stop();
}
console.log(`startSim({historyHours: 24}) until listening: median ${median(startups).toFixed(0)} ms of 3 (ratio to tape generation ${(median(startups) / median(generation)).toFixed(2)})`);
console.log(`  typed arrays allocated by it: median ${(median(arrayBufferGrowth) / 1e6).toFixed(1)} MB (ratio to the columns in use ${(median(arrayBufferGrowth) / tapeBytes).toFixed(2)})`);

const tape = generateDay();
const truth: number[] = [];
const floatFloor: number[] = [];
for (let run = 0; run < 3; run++) {
  truth.push(timed(() => referenceBars(tape, NOW - DAY_MS, NOW, NOW)).ms);
  floatFloor.push(
    timed(() => {
      let volume = 0;
      for (let i = 0; i < trades; i++) volume += Number(aggTradeRow(tape, i).q);
      return volume;
    }).ms,
  );
}
console.log(`ground truth, 24 h (5760 bars, decimal.js): median ${median(truth).toFixed(0)} ms of 3`);
console.log(`  floor (same rows, float sum of q): median ${median(floatFloor).toFixed(0)} ms; ratio ${(median(truth) / median(floatFloor)).toFixed(1)}`);
