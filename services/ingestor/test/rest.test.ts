import { afterEach, describe, expect, it } from "vitest";
import { startSim, type RunningSim, type SimOptions } from "@gapfill/binance-sim";
import { waitFor } from "@gapfill/testkit";
import { BinanceRest, RestRequestError, RestStoppedError } from "../src/binance/rest.ts";
import { startRecordingProxy, type ProxiedExchange, type ProxyFaults, type RecordingProxy } from "./support/recording-proxy.ts";
import { SYMBOL, testLogger } from "./support/harness.ts";

let sim: RunningSim | undefined;
let proxy: RecordingProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  await sim?.stop();
  sim = proxy = undefined;
});

async function restClient(
  options: SimOptions,
  faults: ProxyFaults = {},
): Promise<{ rest: BinanceRest; log: ProxiedExchange[]; sim: RunningSim; stopping: AbortController }> {
  sim = await startSim({ historyHours: 0.5, ...options });
  proxy = await startRecordingProxy(sim.restUrl, faults);
  const stopping = new AbortController();
  return { rest: new BinanceRest({ baseUrl: proxy.url, log: testLogger("rest"), signal: stopping.signal }), log: proxy.log, sim, stopping };
}

/** Wall ms between the answer of exchange i and the arrival of the next request. */
const silenceAfter = (log: ProxiedExchange[], i: number) => log[i + 1]!.requestAt - log[i]!.responseAt;

describe("BinanceRest", () => {
  it("sends nothing until a 429's Retry-After has passed, then carries on", async () => {
    const { rest, log } = await restClient({ faults: { restErrorBurst: { status: 429, count: 2, retryAfterSeconds: 1 } } });
    const trades = await rest.aggTrades({ symbol: SYMBOL, limit: 5 });
    expect(trades).toHaveLength(5);
    expect(log.map((e) => e.status)).toEqual([429, 429, 200]);
    expect(silenceAfter(log, 0)).toBeGreaterThanOrEqual(1000);
    expect(silenceAfter(log, 1)).toBeGreaterThanOrEqual(1000);
  });

  it("stops REST entirely for the length of a 418 ban", async () => {
    const { rest, log, sim } = await restClient({ faults: { restErrorBurst: { status: 418, count: 1, retryAfterSeconds: 1 } } });
    const both = Promise.all([rest.aggTrades({ symbol: SYMBOL, limit: 1 }), rest.klines({ symbol: SYMBOL, startTime: sim.historyStart, endTime: sim.historyStart + 9999 })]);
    await both;
    expect(log.map((e) => e.status)).toEqual([418, 200, 200]);
    expect(silenceAfter(log, 0)).toBeGreaterThanOrEqual(1000);
  });

  it("backs off after server errors instead of retrying in a tight loop", async () => {
    const { rest, log } = await restClient({ faults: { restErrorBurst: { status: 500, count: 2 } } });
    await rest.aggTrades({ symbol: SYMBOL, limit: 1 });
    expect(log.map((e) => e.status)).toEqual([500, 500, 200]);
    // Waits of at least 0.5 s, then at least 1 s.
    expect(silenceAfter(log, 0)).toBeGreaterThanOrEqual(500);
    expect(silenceAfter(log, 1)).toBeGreaterThanOrEqual(1000);
  });

  it("retries, after a backoff, an answer whose body is cut off mid-way", async () => {
    let cuts = 1;
    const { rest, log } = await restClient({}, { breakBody: () => (cuts-- > 0 ? "cut" : null) });
    expect(await rest.aggTrades({ symbol: SYMBOL, limit: 5 })).toHaveLength(5);
    expect(log.map((e) => e.status)).toEqual([200, 200]);
    expect(silenceAfter(log, 0)).toBeGreaterThanOrEqual(500);
  });

  it("gives up reading a stalled body when stopped, with RestStoppedError", async () => {
    const { rest, log, stopping } = await restClient({}, { breakBody: () => "stall" });
    const request = rest.aggTrades({ symbol: SYMBOL, limit: 5 });
    await waitFor(() => log.length === 1, { what: "the answer's headers" });
    stopping.abort();
    await expect(request).rejects.toThrow(RestStoppedError);
  });

  it("throws a request error for a bad request without repeating it", async () => {
    const { rest, log } = await restClient({});
    await expect(rest.aggTrades({ symbol: "NOSUCHPAIR", limit: 1 })).rejects.toThrow(RestRequestError);
    expect(log).toHaveLength(1);
  });

  it("paces below the budget exchangeInfo states, spreading work over windows instead of collecting 429s", async () => {
    // The simulator's window is 2 s (to keep the test short); its exchangeInfo states the limit per minute.
    const { rest, log, sim } = await restClient({ weightLimit: 60, weightWindowMs: 2000, banAfterRejections: 0 });
    expect(await rest.learnWeightLimit([SYMBOL])).toEqual({ weightLimit: 60, windowMs: 60_000 });
    const started = Date.now();
    for (let i = 0; i < 30; i++) await rest.klines({ symbol: SYMBOL, startTime: sim.historyStart + i * 1000, endTime: sim.historyStart + i * 1000 + 999 });
    // 20 + 30 × 2 = 80 weight, at most 60 a window: it cannot fit in one window without a 429.
    expect(log.every((e) => e.status === 200)).toBe(true);
    expect(Math.max(...log.map((e) => e.usedWeight ?? 0))).toBeLessThanOrEqual(60);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(sim.stats().served429).toBe(0);
  });
});
