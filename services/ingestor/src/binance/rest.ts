/**
 * Binance REST market data with the IP's request-weight budget respected. One request is in flight at a time, so
 * after a 429 nothing else is already on its way. Before each request the weight last reported in
 * `X-MBX-USED-WEIGHT-1M` is compared with a share of the minute's budget, and the request waits when it would go
 * over; a 429 pauses every request for its `Retry-After`; a 418 (IP ban) stops REST entirely until the ban ends.
 * Network errors, answers cut off mid-body, 5xx and 403 (Binance's firewall limit) back off exponentially with
 * jitter. No path retries without waiting, and every retry is here: what a call throws will not get better by
 * asking again (RestRequestError, WireError, UnsupportedValueError), or the client was stopped (RestStoppedError).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { backoffDelayMs, describeFailure, OutageLog, type Logger } from "@gapfill/kit";
import type { ServerTimeSample } from "../market-clock.ts";
import { parseAggTradeRows, parseKlineRows, parseServerTime, WireError, type Kline, type Trade } from "./wire.ts";

/** Binance's REQUEST_WEIGHT limit per minute per IP, used until exchangeInfo says otherwise. */
const DEFAULT_WEIGHT_LIMIT = 6000;
/** Most rows one aggTrades or klines request returns. */
export const PAGE_LIMIT = 1000;

const WEIGHT = { aggTrades: 4, klines: 2, exchangeInfo: 20, time: 1 } as const;
export type RestEndpoint = keyof typeof WEIGHT;

export interface RestResponseInfo {
  endpoint: RestEndpoint;
  status: number;
  /** `X-MBX-USED-WEIGHT-1M` of the response, when present. */
  usedWeight: number | null;
}

export interface BinanceRestOptions {
  baseUrl: string;
  log: Logger;
  /** Aborting it ends waiting and in-flight requests: they reject with RestStoppedError. */
  signal: AbortSignal;
  /** Share of the minute's weight budget this client lets itself use before it paces (default 0.8). */
  budgetShare?: number;
  timeoutMs?: number;
  onResponse?: (info: RestResponseInfo) => void;
  /** The host clock the time endpoint's round trip is measured on (default Date.now). */
  clock?: () => number;
}

/** A parsed answer and when, on the host clock, its request left and its headers came back. */
interface Answer {
  body: unknown;
  sentAt: number;
  receivedAt: number;
}

export interface AggTradesQuery {
  symbol: string;
  fromId?: number;
  startTime?: number;
  endTime?: number;
  limit?: number;
}

export interface KlinesQuery {
  symbol: string;
  startTime: number;
  endTime: number;
  limit?: number;
}

/** A 4xx other than 429/418/403: the request itself is wrong, so repeating it cannot help. */
export class RestRequestError extends Error {
  override name = "RestRequestError";
  readonly status: number;
  readonly body: string;

  constructor(
    status: number,
    body: string,
    url: string,
  ) {
    super(`Binance REST ${url} answered ${status}: ${body.slice(0, 300)}`);
    this.status = status;
    this.body = body;
  }
}

export class RestStoppedError extends Error {
  override name = "RestStoppedError";
}

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30_000;
const DEFAULT_429_PAUSE_MS = 10_000;
const DEFAULT_BAN_MS = 120_000;
const INTERVAL_MS: Record<string, number> = { SECOND: 1000, MINUTE: 60_000, HOUR: 3_600_000, DAY: 86_400_000 };

export class BinanceRest {
  private weightLimit = DEFAULT_WEIGHT_LIMIT;
  private windowMs = 60_000;
  private usedWeight = 0;
  private usedWeightAt = 0;
  private pausedUntil = 0;
  private bannedUntil = 0;
  private tail: Promise<unknown> = Promise.resolve();
  private readonly budgetShare: number;
  private readonly timeoutMs: number;
  /** Unreachable, failing or answering 5xx: logged when that starts, when its cause changes and when it ends. */
  private readonly outage: OutageLog;

  private readonly options: BinanceRestOptions;

  constructor(options: BinanceRestOptions) {
    this.options = options;
    this.budgetShare = options.budgetShare ?? 0.8;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.outage = new OutageLog(options.log, { what: "Binance REST", target: new URL(options.baseUrl).host });
  }

  /** Trades by `fromId`, or by time (a window of at most one hour): never both, as Binance refuses that. */
  async aggTrades(query: AggTradesQuery): Promise<Trade[]> {
    const params: Record<string, number | string> = { symbol: query.symbol, limit: query.limit ?? PAGE_LIMIT };
    if (query.fromId !== undefined) params.fromId = query.fromId;
    if (query.startTime !== undefined) params.startTime = query.startTime;
    if (query.endTime !== undefined) params.endTime = query.endTime;
    return parseAggTradeRows((await this.get("aggTrades", "/api/v3/aggTrades", params)).body, query.symbol);
  }

  /** 1 s klines with open time in [startTime, endTime]. */
  async klines(query: KlinesQuery): Promise<Kline[]> {
    const params = {
      symbol: query.symbol,
      interval: "1s",
      startTime: query.startTime,
      endTime: query.endTime,
      limit: query.limit ?? PAGE_LIMIT,
    };
    return parseKlineRows((await this.get("klines", "/api/v3/klines", params)).body, query.symbol);
  }

  /** Binance's clock, with the round trip it was read within (for the market clock's offset). */
  async serverTime(): Promise<ServerTimeSample> {
    const { body, sentAt, receivedAt } = await this.get("time", "/api/v3/time", {});
    return { serverTime: parseServerTime(body), sentAt, receivedAt };
  }

  /**
   * Reads the REQUEST_WEIGHT limit and its window from exchangeInfo, so pacing follows the budget the server
   * states. Keeps the defaults (6,000 a minute) when the server does not say. Asking for every symbol checks them
   * too: an unknown one is refused (-1121) with a RestRequestError.
   */
  async learnWeightLimit(symbols: readonly string[]): Promise<{ weightLimit: number; windowMs: number }> {
    const info = (await this.get("exchangeInfo", "/api/v3/exchangeInfo", { symbols: JSON.stringify(symbols) })).body as {
      rateLimits?: { rateLimitType?: string; interval?: string; intervalNum?: number; limit?: number }[];
    } | null;
    const rule = info?.rateLimits?.find((r) => r.rateLimitType === "REQUEST_WEIGHT" && r.interval! in INTERVAL_MS);
    if (rule && typeof rule.limit === "number" && rule.limit > 0) {
      this.weightLimit = rule.limit;
      this.windowMs = INTERVAL_MS[rule.interval!]! * (rule.intervalNum ?? 1);
    }
    return { weightLimit: this.weightLimit, windowMs: this.windowMs };
  }

  private get(endpoint: RestEndpoint, path: string, params: Record<string, number | string>): Promise<Answer> {
    const url = new URL(path, this.options.baseUrl);
    for (const [key, value] of Object.entries(params)) url.searchParams.set(key, String(value));
    const result = this.tail.then(() => this.send(endpoint, url));
    this.tail = result.catch(() => undefined);
    return result;
  }

  private async send(endpoint: RestEndpoint, url: URL): Promise<Answer> {
    const { log } = this.options;
    const clock = this.options.clock ?? Date.now;
    let failures = 0;
    /** A failure a later attempt may not meet: wait (longer each time) and go again. */
    const backOff = async (cause: unknown, fields: Record<string, unknown> = {}) => {
      if (this.options.signal.aborted) throw new RestStoppedError("REST client stopped");
      failures++;
      const waitMs = restBackoffMs(failures);
      this.outage.failed(cause, { endpoint, ...fields, retryInMs: waitMs });
      await this.pause(waitMs);
    };
    for (;;) {
      await this.waitForBudget(WEIGHT[endpoint]);
      const signal = AbortSignal.any([this.options.signal, AbortSignal.timeout(this.timeoutMs)]);
      let response: Response;
      const sentAt = clock();
      try {
        response = await fetch(url, { headers: { accept: "application/json" }, signal });
      } catch (error) {
        await backOff(error);
        continue;
      }
      const receivedAt = clock();
      const usedWeight = this.noteUsedWeight(response);
      this.options.onResponse?.({ endpoint, status: response.status, usedWeight });
      let body: string;
      try {
        body = await response.text();
      } catch (error) {
        await backOff(new Error(`the answer was cut off while reading it: ${describeFailure(error)}`), { status: response.status });
        continue;
      }
      if (response.status === 429) {
        const waitMs = retryAfterMs(response, DEFAULT_429_PAUSE_MS);
        this.pausedUntil = Date.now() + waitMs;
        log.warn({ endpoint, usedWeight, retryAfterMs: waitMs }, "REST rate limited (429): pausing every request");
        continue;
      }
      if (response.status === 418) {
        const waitMs = retryAfterMs(response, DEFAULT_BAN_MS);
        this.bannedUntil = Date.now() + waitMs;
        log.error(
          { endpoint, bannedUntil: new Date(this.bannedUntil).toISOString() },
          "REST banned (418): no REST request until the ban ends",
        );
        continue;
      }
      if (response.status >= 500 || response.status === 403) {
        await backOff(new Error(`answered HTTP ${response.status}${response.status === 403 ? " (Binance's firewall limit)" : ""}`));
        continue;
      }
      // An answer, even a refusal, means the host is reachable and serving.
      this.outage.succeeded();
      if (!response.ok) throw new RestRequestError(response.status, body, `${url.pathname}${url.search}`);
      try {
        return { body: JSON.parse(body) as unknown, sentAt, receivedAt };
      } catch {
        throw new WireError(`${url.pathname}${url.search} answered ${response.status} with a body that is not JSON: ${body.slice(0, 200)}`);
      }
    }
  }

  /** Waits out a ban or a 429 pause, then paces when the request would take the minute's weight over budget. */
  private async waitForBudget(weight: number): Promise<void> {
    for (;;) {
      const until = Math.max(this.bannedUntil, this.pausedUntil);
      const now = Date.now();
      if (until <= now) break;
      await this.pause(until - now);
    }
    const used = Date.now() - this.usedWeightAt >= this.windowMs ? 0 : this.usedWeight;
    const budget = this.weightLimit * this.budgetShare;
    if (used + weight <= budget) return;
    // Over budget: give the window time to shed about as much weight as we are over by (or to roll over), then
    // go; the response's header tells where we stand again.
    const waitMs = Math.max(1000, Math.ceil((this.windowMs * (used + weight - budget)) / this.weightLimit));
    this.options.log.debug({ used, budget, waitMs }, "REST pacing below the weight budget");
    await this.pause(waitMs);
  }

  private noteUsedWeight(response: Response): number | null {
    const header = response.headers.get("x-mbx-used-weight-1m");
    const used = header === null ? NaN : Number(header);
    if (!Number.isFinite(used)) return null;
    this.usedWeight = used;
    this.usedWeightAt = Date.now();
    return used;
  }

  private async pause(ms: number): Promise<void> {
    try {
      await sleep(ms, undefined, { signal: this.options.signal });
    } catch {
      throw new RestStoppedError("REST client stopped");
    }
  }
}

/** The REST client's own backoff after `failures` failed attempts in a row (1 = the first failure). */
function restBackoffMs(failures: number): number {
  return backoffDelayMs(failures, { initialMs: BACKOFF_MIN_MS, maxMs: BACKOFF_MAX_MS });
}

/** `Retry-After` in seconds → ms (at least half a second), plus jitter so clients do not return in lockstep. */
function retryAfterMs(response: Response, fallbackMs: number): number {
  const header = response.headers.get("retry-after");
  const seconds = header === null || header.trim() === "" ? NaN : Number(header);
  const base = Number.isFinite(seconds) && seconds >= 0 ? Math.max(500, seconds * 1000) : fallbackMs;
  return base + Math.round(Math.random() * 250);
}
