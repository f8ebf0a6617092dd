/**
 * Binance simulator REST throughput, as a consumer pages it: 1,000-trade `aggTrades` pages (by fromId) and 1,000-row
 * `klines?interval=1s` pages, one request at a time over keep-alive HTTP, against the floor of `GET /api/v3/ping`
 * (the same server, hooks and weight accounting, an empty answer) driven the same way.
 *
 * `npm run bench -- sim-rest` (about half a minute; 2 noisy cores: medians of 5 rounds and ratios).
 */
import { startSim } from "../services/binance-sim/src/index.ts";

const ROUNDS = 5;
const REQUESTS = 60;
const NOW = 1_700_000_000_000;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;

const sim = await startSim({ now: NOW, speed: 0, historyHours: 2, weightLimit: 100_000_000 });
const firstId = ((await (await fetch(`${sim.restUrl}/api/v3/aggTrades?symbol=BTCUSDT&startTime=0&limit=1`)).json()) as { a: number }[])[0]!.a;

async function perRequestMs(url: (i: number) => string): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < REQUESTS; i++) {
    const response = await fetch(url(i));
    if (response.status !== 200) throw new Error(`${url(i)} answered ${response.status}`);
    await response.arrayBuffer();
  }
  return (performance.now() - started) / REQUESTS;
}

const ping: number[] = [];
const aggTrades: number[] = [];
const klines: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  ping.push(await perRequestMs(() => `${sim.restUrl}/api/v3/ping`));
  aggTrades.push(await perRequestMs((i) => `${sim.restUrl}/api/v3/aggTrades?symbol=BTCUSDT&fromId=${firstId + i * 1000}&limit=1000`));
  klines.push(await perRequestMs((i) => `${sim.restUrl}/api/v3/klines?symbol=BTCUSDT&interval=1s&startTime=${sim.historyStart + i * 60_000}&limit=1000`));
}
await sim.stop();

const report = (name: string, values: number[], rows: number) =>
  console.log(
    `${name}: median ${median(values).toFixed(2)} ms per request (${Math.round((rows / median(values)) * 1000)} rows/s), ` +
      `ratio to ping ${(median(values) / median(ping)).toFixed(1)}`,
  );
console.log(`floor GET /api/v3/ping: median ${median(ping).toFixed(2)} ms per request`);
report("aggTrades limit=1000 by fromId", aggTrades, 1000);
report("klines 1s limit=1000", klines, 1000);
