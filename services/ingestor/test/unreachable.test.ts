import { afterEach, describe, expect, it } from "vitest";
import { startSim, type RunningSim } from "@gapfill/binance-sim";
import { capturingLogger, freePort, waitFor } from "@gapfill/testkit";
import { BinanceRest, RestStoppedError } from "../src/binance/rest.ts";
import { TradeSocket } from "../src/binance/ws.ts";
import { startRecordingProxy, type RecordingProxy } from "./support/recording-proxy.ts";
import { SYMBOL } from "./support/harness.ts";

/** The port of the latest "closed port" case: free a moment ago, so nothing listens on it. */
let closedPort = 0;
let stopping = new AbortController();
let sim: RunningSim | undefined;
let proxy: RecordingProxy | undefined;
afterEach(async () => {
  stopping.abort();
  await proxy?.close();
  await sim?.stop();
  sim = proxy = undefined;
  stopping = new AbortController();
});

type Line = Record<string, unknown>;
const warnings = (lines: Line[], what: string) => lines.filter((line) => line.level === 40 && String(line.msg).startsWith(what));
const repeats = (lines: Line[], what: string) => lines.filter((line) => line.level === 20 && line.msg === `${what} still failing`);

describe("Binance REST without a route to the host", () => {
  it.each([
    // RFC 6761: a .invalid name never resolves.
    ["an unresolvable host", async () => "http://data-api.binance.invalid", () => "fetch failed: getaddrinfo ENOTFOUND data-api.binance.invalid"],
    ["a closed port", async () => `http://127.0.0.1:${closedPort = await freePort()}`, () => `fetch failed: connect ECONNREFUSED 127.0.0.1:${closedPort}`],
  ])("logs %s once, with the host and the cause, however often it retries", async (_name, baseUrl, cause) => {
    const { log, lines } = capturingLogger();
    const url = await baseUrl();
    const rest = new BinanceRest({ baseUrl: url, log, signal: stopping.signal });
    const request = rest.serverTime();
    await waitFor(() => repeats(lines, "Binance REST").length >= 2, { what: "three failed attempts" });
    stopping.abort();
    await expect(request).rejects.toThrow(RestStoppedError);
    const host = new URL(url).host;
    expect(warnings(lines, "Binance REST")).toEqual([
      expect.objectContaining({ msg: `Binance REST failing (${host}): ${cause()}`, target: host, cause: cause(), endpoint: "time" }),
    ]);
    expect(lines.some((line) => String(line.msg).includes("fetch failed") && !("cause" in line))).toBe(false);
  });

  it("logs the recovery once when answers come back", async () => {
    sim = await startSim({ historyHours: 0.1, faults: { restErrorBurst: { status: 500, count: 3 } } });
    proxy = await startRecordingProxy(sim.restUrl);
    const { log, lines } = capturingLogger();
    const rest = new BinanceRest({ baseUrl: proxy.url, log, signal: stopping.signal });
    expect(await rest.aggTrades({ symbol: SYMBOL, limit: 1 })).toHaveLength(1);
    const host = new URL(proxy.url).host;
    expect(warnings(lines, "Binance REST").map((line) => line.msg)).toEqual([`Binance REST failing (${host}): answered HTTP 500`]);
    expect(repeats(lines, "Binance REST")).toHaveLength(2);
    expect(lines.filter((line) => line.msg === `Binance REST recovered (${host})`)).toEqual([expect.objectContaining({ failures: 3 })]);
  });
});

describe("Binance WebSocket without a route to the host", () => {
  it.each([
    ["an unresolvable host", async () => "wss://stream.binance.invalid", () => "getaddrinfo ENOTFOUND stream.binance.invalid"],
    ["a closed port", async () => `ws://127.0.0.1:${closedPort = await freePort()}`, () => `connect ECONNREFUSED 127.0.0.1:${closedPort}`],
  ])("logs %s once, with the host and the cause, while it keeps reconnecting", async (_name, baseUrl, cause) => {
    const { log, lines } = capturingLogger();
    const url = await baseUrl();
    const socket = new TradeSocket({ baseUrl: url, symbols: [SYMBOL], log, onFrame: () => {}, signal: stopping.signal, backoffMinMs: 20, backoffMaxMs: 50 });
    socket.start();
    await waitFor(() => repeats(lines, "Binance WebSocket").length >= 3, { what: "four failed attempts" });
    stopping.abort();
    await socket.closed;
    const host = new URL(url).host;
    expect(warnings(lines, "Binance WebSocket")).toEqual([
      expect.objectContaining({ msg: `Binance WebSocket failing (${host}): ${cause()}`, target: host }),
    ]);
    expect(lines.filter((line) => Number(line.level) >= 30 && line.msg === "WebSocket reconnecting")).toEqual([]);
  });
});
