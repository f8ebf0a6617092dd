import { setTimeout as sleep } from "node:timers/promises";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { aggTradesRange } from "./agg-trades.ts";
import { binanceErrors, SYMBOL_RANGE } from "./binance-errors.ts";
import { exchangeInfo } from "./exchange-info.ts";
import type { FaultSwitch } from "./faults.ts";
import { aggTradeRow } from "./format.ts";
import { KLINE_INTERVALS, klineRow, queryKlines, type EmptyKlines } from "./klines.ts";
import { BinanceQuery, checkSymbol, timeZoneOffsetMs } from "./params.ts";
import type { SimCounters } from "./stats.ts";
import type { Tape } from "./tape.ts";
import type { WeightLimiter } from "./weight-limiter.ts";

/** REQUEST_WEIGHT of each endpoint, as Binance documents it. */
export const ENDPOINT_WEIGHTS: Readonly<Record<string, number>> = {
  "/api/v3/ping": 1,
  "/api/v3/time": 1,
  "/api/v3/exchangeInfo": 20,
  "/api/v3/aggTrades": 4,
  "/api/v3/klines": 2,
};

export interface BinanceRestDeps {
  tapes: ReadonlyMap<string, Tape>;
  clock: () => number;
  limiter: WeightLimiter;
  weightWindowMs: number;
  faults: FaultSwitch;
  counters: SimCounters;
  emptyKlines: EmptyKlines;
}

/** Binance's spot market-data REST endpoints, with request weights, rate limits and injected REST faults. */
export async function binanceRestRoutes(api: FastifyInstance, deps: BinanceRestDeps): Promise<void> {
  const { tapes, clock, limiter, faults, counters } = deps;
  const symbols = new Set(tapes.keys());
  const window = deps.weightWindowMs % 60_000 === 0 ? `${deps.weightWindowMs / 60_000} MINUTE` : `${deps.weightWindowMs / 1000} SECOND`;
  const tooMuchWeight = () =>
    `Too much request weight used; current limit is ${limiter.limit} request weight per ${window}. ` +
    "Please use WebSocket Streams for live updates to avoid polling the API.";
  const banned = (until: number) =>
    `Way too much request weight used; IP banned until ${until}. Please use WebSocket Streams for live updates to avoid bans.`;

  const setUsedWeight = (reply: FastifyReply, used: number) =>
    reply.header("x-mbx-used-weight", String(used)).header("x-mbx-used-weight-1m", String(used));

  api.addHook("onRequest", async (request: FastifyRequest, reply: FastifyReply) => {
    const latency = faults.restLatencyMs;
    if (latency > 0) await sleep(latency);
    const fault = faults.takeRestFault();
    if (fault) {
      counters.countRestFault();
      setUsedWeight(reply, limiter.usedWeight(request.ip));
      if (fault.status === 500) return reply.code(500).send({ code: -1001, msg: "Internal error; unable to process your request. Please try again." });
      reply.header("retry-after", String(fault.retryAfterSeconds));
      const message = fault.status === 429 ? tooMuchWeight() : banned(Date.now() + fault.retryAfterSeconds * 1000);
      return reply.code(fault.status).send({ code: -1003, msg: message });
    }
    const weight = ENDPOINT_WEIGHTS[request.routeOptions.url ?? ""] ?? 1;
    const admission = limiter.admit(request.ip, weight);
    setUsedWeight(reply, admission.usedWeight);
    if (admission.kind === "limited") {
      return reply.code(429).header("retry-after", String(admission.retryAfterSeconds)).send({ code: -1003, msg: tooMuchWeight() });
    }
    if (admission.kind === "banned") {
      return reply.code(418).header("retry-after", String(admission.retryAfterSeconds)).send({ code: -1003, msg: banned(admission.bannedUntil) });
    }
  });

  const query = (request: FastifyRequest, allowed: readonly string[]) =>
    new BinanceQuery(new URL(request.url, "http://sim").searchParams, allowed);
  const visibleTape = (symbol: string) => {
    const tape = tapes.get(symbol)!;
    tape.extendTo(clock());
    return tape;
  };

  api.get("/ping", async (request) => {
    query(request, []);
    return {};
  });

  api.get("/time", async (request) => {
    query(request, []);
    return { serverTime: clock() };
  });

  api.get("/exchangeInfo", async (request) => {
    const q = query(request, ["symbol", "symbols", "permissions", "showPermissionSets", "symbolStatus"]);
    const symbol = q.optional("symbol");
    const list = q.optional("symbols");
    if (symbol !== undefined && list !== undefined) throw binanceErrors.badCombination();
    let selected = [...symbols];
    if (symbol !== undefined) selected = [checkSymbol(symbol, symbols)];
    if (list !== undefined) selected = parseSymbolList(list).map((name) => checkSymbol(name, symbols));
    return exchangeInfo(selected, limiter.limit, clock());
  });

  api.get("/aggTrades", async (request) => {
    const q = query(request, ["symbol", "fromId", "startTime", "endTime", "limit"]);
    const symbol = q.symbol(symbols);
    const fromId = q.long("fromId");
    const startTime = q.long("startTime");
    const endTime = q.long("endTime");
    const limit = q.limit(500, 1000);
    const now = clock();
    const tape = visibleTape(symbol);
    const { from, to } = aggTradesRange(tape, { fromId, startTime, endTime, limit, clock: now });
    const rows = [];
    for (let i = from; i < to; i++) rows.push(aggTradeRow(tape, i));
    return rows;
  });

  api.get("/klines", async (request) => {
    const q = query(request, ["symbol", "interval", "startTime", "endTime", "timeZone", "limit"]);
    const symbol = q.symbol(symbols);
    const interval = q.mandatory("interval");
    const intervalMs = KLINE_INTERVALS[interval];
    if (intervalMs === undefined) throw binanceErrors.badInterval();
    const startTime = q.long("startTime");
    const endTime = q.long("endTime");
    if (startTime !== undefined && endTime !== undefined && endTime < startTime) throw binanceErrors.badCombination();
    const offsetMs = timeZoneOffsetMs(q.optional("timeZone"));
    const limit = q.limit(500, 1000);
    const now = clock();
    const tape = visibleTape(symbol);
    return queryKlines(tape, { intervalMs, offsetMs, startTime, endTime, limit, clock: now, emptyKlines: deps.emptyKlines }).map(klineRow);
  });
}

/** `symbols=["BTCUSDT","ETHUSDT"]`, in Binance's accepted form. */
function parseSymbolList(value: string): string[] {
  const range = `^\\[("${SYMBOL_RANGE.slice(1, -1)}"(,"${SYMBOL_RANGE.slice(1, -1)}"){0,}){0,1}\\]$`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw binanceErrors.illegalChars("symbols", range);
  }
  if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((item) => typeof item === "string")) {
    throw binanceErrors.illegalChars("symbols", range);
  }
  return parsed as string[];
}
