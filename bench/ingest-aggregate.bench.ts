/**
 * Ingestor aggregation throughput: raw combined-stream WebSocket aggTrade frames (strings, as the socket hands them
 * over) through `parseAggTradeFrame` (wire.ts: JSON, field checks, exact scaled integers) and `BarAggregator.addTrade`
 * (aggregate.ts: OHLC, exact volume and quote-volume sums, closing bars), in trades per second, against the floor
 * of plain `JSON.parse` of the same frames. Goal: ratio ≥ 0.7. Also the full in-process path with the id sequencer
 * (continuity.ts) in front of the aggregator, as the live feed runs it.
 *
 * `npm run bench -- ingest-aggregate` (about 20 s; 2 noisy cores: medians of 7 interleaved rounds).
 */
import { BAR_MS } from "@gapfill/contracts";
import { median } from "@gapfill/testkit";
import { BarAggregator } from "../services/ingestor/src/aggregate.ts";
import { parseAggTradeFrame } from "../services/ingestor/src/binance/wire.ts";
import { TradeSequencer } from "../services/ingestor/src/continuity.ts";

const FRAMES = 200_000;
const ROUNDS = 7;
const START = 1_700_000_010_000 - (1_700_000_010_000 % BAR_MS);

/** A seeded tape like BTCUSDT's: 0.01 tick around 67,000, 0.00001 lot, ~20 trades a second, 8-decimal strings. */
function makeFrames(): string[] {
  let seed = 42;
  const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648);
  const frames: string[] = [];
  let ticks = 6_700_000;
  let time = START;
  let rawId = 4_000_000_000;
  for (let i = 0; i < FRAMES; i++) {
    ticks += Math.round((random() - 0.5) * 60);
    time += Math.floor(random() * 100);
    const lots = 1 + Math.floor(random() * 50_000);
    const raw = 1 + Math.floor(random() * 3);
    const data =
      `{"e":"aggTrade","E":${time + 3},"s":"BTCUSDT","a":${2_000_000_000 + i},"p":"${(ticks / 100).toFixed(8)}",` +
      `"q":"${(lots / 100_000).toFixed(8)}","f":${rawId},"l":${rawId + raw - 1},"T":${time},"m":${random() < 0.5},"M":true}`;
    frames.push(`{"stream":"btcusdt@aggTrade","data":${data}}`);
    rawId += raw;
  }
  return frames;
}

const frames = makeFrames();
let sink = 0;

/** Trades per second of one pass over every frame. */
function rate(pass: () => void): number {
  const started = performance.now();
  pass();
  return FRAMES / ((performance.now() - started) / 1000);
}

const floor = () => {
  for (const frame of frames) sink += (JSON.parse(frame) as { data: { a: number } }).data.a;
};
const wireAndAggregate = () => {
  const aggregator = new BarAggregator("BTCUSDT", START, null);
  for (const frame of frames) aggregator.addTrade(parseAggTradeFrame(frame)!);
  sink += aggregator.takeClosed().length;
};
const withSequencer = () => {
  const aggregator = new BarAggregator("BTCUSDT", START, null);
  const sequencer = new TradeSequencer();
  sequencer.anchorAt(2_000_000_000);
  for (const frame of frames) {
    sequencer.offer(parseAggTradeFrame(frame)!);
    for (const trade of sequencer.drain()) aggregator.addTrade(trade);
  }
  sink += aggregator.takeClosed().length;
};

// Warm up every path, then interleave rounds so machine noise hits all of them alike.
for (let i = 0; i < 2; i++) [floor, wireAndAggregate, withSequencer].forEach((pass) => pass());
const floorRates: number[] = [];
const ourRates: number[] = [];
const fullRates: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  floorRates.push(rate(floor));
  ourRates.push(rate(wireAndAggregate));
  fullRates.push(rate(withSequencer));
}

const perSecond = (value: number) => `${Math.round(value).toLocaleString("en-US")} trades/s`;
console.log(`frames: ${FRAMES.toLocaleString("en-US")} combined-stream aggTrade frames (${sink > 0 ? "checked" : "?"})`);
console.log(`floor JSON.parse: median ${perSecond(median(floorRates))}`);
console.log(
  `wire + aggregate: median ${perSecond(median(ourRates))}, ratio to floor ${(median(ourRates) / median(floorRates)).toFixed(2)} (goal ≥ 0.7)`,
);
console.log(
  `wire + sequencer + aggregate: median ${perSecond(median(fullRates))}, ratio to floor ${(median(fullRates) / median(floorRates)).toFixed(2)}`,
);
