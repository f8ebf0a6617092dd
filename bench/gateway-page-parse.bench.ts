/**
 * The browser's side of a bootstrap page: the same 5,000 bars as rows (the floor: the format every client reads
 * today) and as format=columns, made by the gateway's own serializer, served from localhost to headless Chromium
 * (Debian's /usr/bin/chromium through playwright-core). In the page, per format: `response.json()` (read + parse) and
 * then turning the page into the chart's candles as services/gateway/public/app.js does; medians of 40 rounds after
 * 5 warm-up rounds, and bytes.
 *
 * `npm run bench -- gateway-page-parse`
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { chromium } from "playwright-core";
import { TEST_SERIES_START, testBars } from "@gapfill/testkit";
import { pageBody } from "../services/gateway/src/pages/page-body.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ROUNDS = 40;
const WARMUP = 5;

const bars = testBars("BTCUSDT", TEST_SERIES_START, 5000, 9).reverse();
const bodies = {
  rows: Buffer.from(pageBody("rows", "BTCUSDT", bars, "x".repeat(60))),
  columns: Buffer.from(pageBody("columns", "BTCUSDT", bars, "x".repeat(60))),
};
const server = createServer((req, res) => {
  const format = req.url?.slice(1);
  if (format === "rows" || format === "columns") {
    res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" }).end(bodies[format]);
  } else {
    res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>parse</title>");
  }
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic", "--no-first-run"],
});
try {
  const page = await browser.newPage();
  await page.goto(`${base}/`);
  // Plain JavaScript run in the page (as text: the TypeScript loader would add helpers the page does not have).
  const inPage = `(async () => {
    const candlesOf = {
      rows: (body) => body.bars.map((bar) => ({ time: bar.ts / 1000, open: bar.open, high: bar.high, low: bar.low, close: bar.close })),
      columns: (body) => body.ts.map((ts, i) => ({ time: ts / 1000, open: body.open[i], high: body.high[i], low: body.low[i], close: body.close[i] })),
    };
    const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
    const samples = { rows: { parse: [], candles: [] }, columns: { parse: [], candles: [] } };
    for (let round = 0; round < ${WARMUP + ROUNDS}; round++) {
      for (const format of ["rows", "columns"]) {
        const response = await fetch("/" + format);
        const t0 = performance.now();
        const body = await response.json();
        const t1 = performance.now();
        const candles = candlesOf[format](body);
        const t2 = performance.now();
        if (candles.length !== 5000) throw new Error(format + ": " + candles.length + " candles");
        if (round < ${WARMUP}) continue;
        samples[format].parse.push(t1 - t0);
        samples[format].candles.push(t2 - t1);
      }
    }
    const out = {};
    for (const format of ["rows", "columns"]) out[format] = { parseMs: median(samples[format].parse), candlesMs: median(samples[format].candles) };
    return out;
  })()`;
  const results = (await page.evaluate(inPage)) as Record<"rows" | "columns", { parseMs: number; candlesMs: number }>;
  const { rows, columns } = results;
  console.log(`5,000-bar page in headless Chromium (median of ${ROUNDS}): response.json() | to candles | total | bytes`);
  for (const [name, r] of [
    ["rows (floor)", rows],
    ["columns", columns],
  ] as const) {
    const bytes = bodies[name === "columns" ? "columns" : "rows"].length;
    console.log(`${name.padEnd(13)} ${r.parseMs.toFixed(2).padStart(7)} ms | ${r.candlesMs.toFixed(2).padStart(6)} ms | ${(r.parseMs + r.candlesMs).toFixed(2).padStart(6)} ms | ${(bytes / 1024).toFixed(0)} KiB`);
  }
  console.log(
    `columns / rows: parse ${(columns.parseMs / rows.parseMs).toFixed(2)}, total ${((columns.parseMs + columns.candlesMs) / (rows.parseMs + rows.candlesMs)).toFixed(2)}, bytes ${(bodies.columns.length / bodies.rows.length).toFixed(2)}`,
  );
} finally {
  await browser.close();
  server.close();
}
