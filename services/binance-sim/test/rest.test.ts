import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BAR_MS, closedBarSchema, type ClosedBar } from "@gapfill/contracts";
import { startSim, type RunningSim } from "../src/index.ts";
import { FIXED_NOW, getJson, HOUR_MS, pageByFromId, rollUpKlines, type AggTrade, type KlineRow } from "./support.ts";

/** A frozen clock (speed 0): the tape up to now is fixed, so every listing can be compared exactly. */
let sim: RunningSim;
let all: AggTrade[];
const SYMBOL = "BTCUSDT";

beforeAll(async () => {
  sim = await startSim({ now: FIXED_NOW, speed: 0, historyHours: 0.5, weightLimit: 1_000_000 });
  const first = await getJson<AggTrade[]>(`${sim.restUrl}/api/v3/aggTrades?symbol=${SYMBOL}&startTime=0&limit=1`);
  all = await pageByFromId(sim.restUrl, SYMBOL, first.body[0]!.a);
});
afterAll(() => sim.stop());

const api = (path: string) => getJson(`${sim.restUrl}/api/v3/${path}`);

describe("GET /api/v3/aggTrades", () => {
  it("pages by fromId through every trade exactly once, in order, up to the clock and no further", async () => {
    expect(all.length).toBeGreaterThan(20_000);
    all.forEach((trade, i) => {
      if (i > 0) {
        expect(trade.a).toBe(all[i - 1]!.a + 1);
        expect(trade.T).toBeGreaterThanOrEqual(all[i - 1]!.T);
      }
    });
    expect(all[0]!.T).toBeGreaterThanOrEqual(sim.historyStart);
    expect(all.at(-1)!.T).toBeLessThanOrEqual(sim.clock());
    const newest = await api(`aggTrades?symbol=${SYMBOL}&limit=1`);
    expect(newest.body).toEqual([all.at(-1)]);
    expect((await api(`aggTrades?symbol=${SYMBOL}&fromId=${all.at(-1)!.a + 1}`)).body).toEqual([]);
    expect((await api(`aggTrades?symbol=${SYMBOL}&startTime=${sim.clock() + 1}`)).body).toEqual([]);
  });

  it("pages by inclusive time windows to the very same list", async () => {
    const byTime: AggTrade[] = [];
    const windowMs = 60_000;
    for (let start = sim.historyStart; start <= sim.clock(); start += windowMs) {
      const end = start + windowMs - 1;
      let from = start;
      for (;;) {
        const { body } = await getJson<AggTrade[]>(`${sim.restUrl}/api/v3/aggTrades?symbol=${SYMBOL}&startTime=${from}&endTime=${end}&limit=1000`);
        const fresh = body.filter((trade) => byTime.length === 0 || trade.a > byTime.at(-1)!.a);
        byTime.push(...fresh);
        for (const trade of body) {
          expect(trade.T).toBeGreaterThanOrEqual(from);
          expect(trade.T).toBeLessThanOrEqual(end);
        }
        if (body.length < 1000) break;
        from = body.at(-1)!.T;
      }
    }
    expect(byTime).toEqual(all);
  });

  it("includes both ends of a time window and serves the newest trades up to endTime alone", async () => {
    const probe = all[500]!;
    const at = (await api(`aggTrades?symbol=${SYMBOL}&startTime=${probe.T}&endTime=${probe.T}`)).body as AggTrade[];
    expect(at).toEqual(all.filter((trade) => trade.T === probe.T));
    const upTo = (await api(`aggTrades?symbol=${SYMBOL}&endTime=${probe.T}&limit=3`)).body as AggTrade[];
    expect(upTo).toEqual(all.filter((trade) => trade.T <= probe.T).slice(-3));
  });

  it("defaults to 500 trades and caps limit at 1000", async () => {
    const from = all[0]!.a;
    expect(((await api(`aggTrades?symbol=${SYMBOL}&fromId=${from}`)).body as AggTrade[]).length).toBe(500);
    expect(((await api(`aggTrades?symbol=${SYMBOL}&fromId=${from}&limit=5000`)).body as AggTrade[]).length).toBe(1000);
    expect(((await api(`aggTrades?symbol=${SYMBOL}&fromId=${from}&limit=7`)).body as AggTrade[])).toEqual(all.slice(0, 7));
  });

  it("carries the audit records, with p and q \"0\" and no raw trades", () => {
    const audits = all.filter((trade) => trade.f === -1);
    expect(audits.length).toBeGreaterThan(0);
    for (const audit of audits) expect(audit).toMatchObject({ p: "0", q: "0", l: -1 });
  });
});

describe("Binance errors for bad parameters", () => {
  const from = () => all[0]!.a;
  it.each([
    ["aggTrades", -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."],
    ["aggTrades?symbol=", -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."],
    ["aggTrades?symbol=ETHBTC", -1121, "Invalid symbol."],
    ["aggTrades?symbol=btcusdt", -1100, "Illegal characters found in parameter 'symbol'; legal range is '^[A-Z0-9-_.]{1,20}$'."],
    ["aggTrades?symbol=BTC%20USDT", -1100, "Illegal characters found in parameter 'symbol'; legal range is '^[A-Z0-9-_.]{1,20}$'."],
    ["aggTrades?symbol=BTCUSDT&limit=abc", -1100, "Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'."],
    ["aggTrades?symbol=BTCUSDT&fromId=-5", -1100, "Illegal characters found in parameter 'fromId'; legal range is '^[0-9]{1,20}$'."],
    ["aggTrades?symbol=BTCUSDT&limit=0", -1130, "Data sent for parameter 'limit' is not valid."],
    ["aggTrades?symbol=BTCUSDT&limit=", -1105, "Parameter 'limit' was empty."],
    ["aggTrades?symbol=BTCUSDT&symbol=BTCUSDT", -1101, "Duplicate values for a parameter detected."],
    ["aggTrades?symbol=BTCUSDT&fromId=1&startTime=1&endTime=2&limit=5&x=1", -1101, "Too many parameters; expected '5' and received '6'."],
    ["aggTrades?symbol=BTCUSDT&interval=1s", -1104, "Not all sent parameters were read; read '1' parameter(s) but was sent '2'."],
    ["aggTrades?symbol=BTCUSDT&fromId=1&startTime=1", -1128, "Combination of optional parameters invalid."],
    [`aggTrades?symbol=BTCUSDT&startTime=${FIXED_NOW - HOUR_MS - 1}&endTime=${FIXED_NOW}`, -1127, "More than 1 hours between startTime and endTime."],
    ["aggTrades?symbol=BTCUSDT&startTime=10&endTime=9", -1128, "Combination of optional parameters invalid."],
    ["klines?symbol=BTCUSDT", -1102, "Mandatory parameter 'interval' was not sent, was empty/null, or malformed."],
    ["klines?symbol=BTCUSDT&interval=15s", -1120, "Invalid interval."],
    ["klines?symbol=BTCUSDT&interval=1s&timeZone=15", -1130, "Data sent for parameter 'timeZone' is not valid."],
    ["exchangeInfo?symbol=DOGEUSDT", -1121, "Invalid symbol."],
    ["exchangeInfo?symbols=BTCUSDT", -1100, expect.stringContaining("Illegal characters found in parameter 'symbols'")],
    ["ping?x=1", -1101, "Too many parameters; expected '0' and received '1'."],
  ])("GET %s → 400 %d", async (path, code, msg) => {
    const answer = await api(path);
    expect(answer.status).toBe(400);
    expect(answer.headers.get("content-type")).toContain("application/json");
    expect(answer.body).toEqual({ code, msg });
  });

  it("accepts a window of exactly one hour, and answers normally after any error", async () => {
    expect((await api(`aggTrades?symbol=BTCUSDT&startTime=${FIXED_NOW - HOUR_MS}&endTime=${FIXED_NOW}&limit=2`)).status).toBe(200);
    expect(((await api(`aggTrades?symbol=BTCUSDT&fromId=${from()}&limit=3`)).body as AggTrade[])).toEqual(all.slice(0, 3));
  });

  it("answers unknown paths with a JSON 404", async () => {
    const answer = await api("depth?symbol=BTCUSDT");
    expect(answer.status).toBe(404);
    expect(answer.body).toMatchObject({ error: { code: "not_found" } });
  });
});

describe("GET /api/v3/klines", () => {
  const lastClosedTs = () => Math.floor(sim.clock() / BAR_MS) * BAR_MS - BAR_MS;

  it("answers arrays in Binance's field order, newest last, with the open kline included", async () => {
    const { body } = await getJson<KlineRow[]>(`${sim.restUrl}/api/v3/klines?symbol=${SYMBOL}&interval=1s&limit=3`);
    expect(body).toHaveLength(3);
    const open = Math.floor(sim.clock() / 1000) * 1000;
    expect(body.map((row) => row[0])).toEqual([open - 2000, open - 1000, open]);
    for (const row of body) {
      expect(row).toHaveLength(12);
      expect(row[6]).toBe(row[0] + 999);
      expect(typeof row[8]).toBe("number");
      for (const field of [1, 2, 3, 4, 5, 7, 9, 10]) expect(row[field]).toMatch(/^\d+\.\d{8}$/);
      expect(row[11]).toBe("0");
    }
  });

  it("1 s klines re-aggregated to 15 s equal GET /_sim/bars (exact volumes, raw trade counts, flat bars)", async () => {
    const to = lastClosedTs() + BAR_MS;
    const from = to - 20 * 60_000;
    const rows: KlineRow[] = [];
    for (let start = from; start < to; start += 1_000_000) {
      const { body } = await getJson<KlineRow[]>(`${sim.restUrl}/api/v3/klines?symbol=${SYMBOL}&interval=1s&startTime=${start}&endTime=${Math.min(start + 999_999, to - 1)}&limit=1000`);
      rows.push(...body);
    }
    const before = await getJson<KlineRow[]>(`${sim.restUrl}/api/v3/klines?symbol=${SYMBOL}&interval=1s&endTime=${from - 1}&limit=1`);
    const truth = await getJson<ClosedBar[]>(`${sim.restUrl}/_sim/bars?symbol=${SYMBOL}&from=${from}&to=${to}`);
    expect(truth.status).toBe(200);
    expect(truth.body).toHaveLength(80);
    expect(truth.body).toEqual(sim.groundTruth(SYMBOL, from, to));
    for (const bar of truth.body) expect(closedBarSchema.safeParse(bar).success).toBe(true);
    expect(truth.body.some((bar) => bar.trades === 0)).toBe(true);
    const withoutIds = truth.body.map((bar) => ({ ...bar, first_agg_id: null, last_agg_id: null }));
    expect(rollUpKlines(SYMBOL, rows, from, to, before.body[0]![4])).toEqual(withoutIds);
  });

  it("1 m klines hold the same trades as the four 15 s bars of their minute", async () => {
    const minuteOpen = Math.floor(lastClosedTs() / 60_000) * 60_000 - 60_000;
    const { body } = await getJson<KlineRow[]>(`${sim.restUrl}/api/v3/klines?symbol=${SYMBOL}&interval=1m&startTime=${minuteOpen}&limit=1`);
    const bars = sim.groundTruth(SYMBOL, minuteOpen, minuteOpen + 60_000);
    expect(bars).toHaveLength(4);
    const row = body[0]!;
    expect(row[0]).toBe(minuteOpen);
    expect(row[8]).toBe(bars.reduce((n, bar) => n + bar.trades, 0));
    expect(Number(row[2])).toBe(Math.max(...bars.map((bar) => bar.high)));
    expect(Number(row[3])).toBe(Math.min(...bars.map((bar) => bar.low)));
    expect(Number(row[4])).toBe(bars[3]!.close);
  });
});

describe("general endpoints and /_sim", () => {
  it("ping, time and exchangeInfo answer like Binance", async () => {
    expect((await api("ping")).body).toEqual({});
    expect((await api("time")).body).toEqual({ serverTime: FIXED_NOW });
    const info = (await api("exchangeInfo?symbol=BTCUSDT")).body as { rateLimits: unknown[]; symbols: { symbol: string; filters: { filterType: string }[] }[] };
    expect(info.rateLimits).toContainEqual({ rateLimitType: "REQUEST_WEIGHT", interval: "MINUTE", intervalNum: 1, limit: 1_000_000 });
    expect(info.symbols[0]!.symbol).toBe("BTCUSDT");
    expect(info.symbols[0]!.filters).toContainEqual({ filterType: "PRICE_FILTER", minPrice: "0.01000000", maxPrice: "1000000.00000000", tickSize: "0.01000000" });
    expect(info.symbols[0]!.filters).toContainEqual({ filterType: "LOT_SIZE", minQty: "0.00001000", maxQty: "9000.00000000", stepSize: "0.00001000" });
    expect(((await api('exchangeInfo?symbols=["BTCUSDT"]')).body as { symbols: unknown[] }).symbols).toHaveLength(1);
  });

  it("rejects bad /_sim/bars queries with a 400 JSON error", async () => {
    for (const query of ["symbol=BTCUSDT&from=x&to=1", "symbol=btc&from=1&to=2", "symbol=ETHUSDT&from=1&to=2", `symbol=BTCUSDT&from=10&to=5`, `symbol=BTCUSDT&from=0&to=${FIXED_NOW}`]) {
      const answer = await getJson(`${sim.restUrl}/_sim/bars?${query}`);
      expect(answer.status, query).toBe(400);
      expect(answer.body).toMatchObject({ error: { code: "bad_request", message: expect.any(String) } });
    }
    expect(() => sim.groundTruth("ETHUSDT", 0, 1)).toThrow(/not simulated/);
  });

  it("reports the clock", async () => {
    expect((await getJson(`${sim.restUrl}/_sim/clock`)).body).toEqual({ now: FIXED_NOW, anchor: FIXED_NOW, speed: 0, historyStart: FIXED_NOW - HOUR_MS / 2, symbols: ["BTCUSDT"] });
  });
});
