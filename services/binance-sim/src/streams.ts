import { KLINE_INTERVALS } from "./klines.ts";

export type MarketStream =
  | { name: string; symbol: string; kind: "aggTrade" }
  | { name: string; symbol: string; kind: "kline"; interval: string; intervalMs: number };

/** Binance allows this many streams on one connection. */
export const MAX_STREAMS_PER_CONNECTION = 1024;

/**
 * A stream name as Binance spells it: lower-case symbol, `@aggTrade` or `@kline_<interval>`
 * (`btcusdt@aggTrade`, `btcusdt@kline_1s`). Returns the reason as a string when it is not one the simulator serves.
 */
export function parseStreamName(name: string, symbols: ReadonlySet<string>): MarketStream | string {
  const match = /^([a-z0-9]{2,20})@(aggTrade|kline_([0-9]+[smhd]))$/.exec(name);
  if (!match) return `invalid stream name '${name}' (expected <symbol>@aggTrade or <symbol>@kline_<interval>, symbol in lower case)`;
  const symbol = match[1]!.toUpperCase();
  if (!symbols.has(symbol)) return `unknown symbol in stream '${name}' (this simulator trades ${[...symbols].join(", ")})`;
  if (match[2] === "aggTrade") return { name, symbol, kind: "aggTrade" };
  const interval = match[3]!;
  const intervalMs = KLINE_INTERVALS[interval];
  if (intervalMs === undefined) return `unsupported kline interval in stream '${name}' (one of ${Object.keys(KLINE_INTERVALS).join(", ")})`;
  return { name, symbol, kind: "kline", interval, intervalMs };
}

export type ConnectPath = { combined: boolean; streams: MarketStream[] } | { status: 400 | 404; message: string };

/**
 * Where a WebSocket client connects: `/ws`, `/ws/<stream>[/<stream>…]` (raw payloads) or
 * `/stream[?streams=<stream>/<stream>…]` (payloads wrapped as `{"stream":…,"data":…}`).
 */
export function parseConnectPath(url: URL, symbols: ReadonlySet<string>): ConnectPath {
  let combined: boolean;
  let names: string[];
  if (url.pathname === "/ws" || url.pathname.startsWith("/ws/")) {
    combined = false;
    names = url.pathname.slice(4).split("/").filter((part) => part.length > 0);
  } else if (url.pathname === "/stream") {
    combined = true;
    names = (url.searchParams.get("streams") ?? "").split("/").filter((part) => part.length > 0);
  } else {
    return { status: 404, message: `no WebSocket endpoint at ${url.pathname}; use /ws/<stream> or /stream?streams=<stream>/<stream>` };
  }
  if (names.length > MAX_STREAMS_PER_CONNECTION) {
    return { status: 400, message: `too many streams: ${names.length} (at most ${MAX_STREAMS_PER_CONNECTION})` };
  }
  const streams: MarketStream[] = [];
  for (const name of names) {
    const stream = parseStreamName(safeDecode(name), symbols);
    if (typeof stream === "string") return { status: 400, message: stream };
    if (!streams.some((known) => known.name === stream.name)) streams.push(stream);
  }
  return { combined, streams };
}

function safeDecode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}
