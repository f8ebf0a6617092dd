import { createHash } from "node:crypto";
import { request as httpRequest } from "node:http";
import { Decimal } from "decimal.js";
import WebSocket from "ws";
import { waitFor } from "@gapfill/testkit";
import type { AggTradeRow } from "../src/format.ts";
import { marketSpec } from "../src/market.ts";
import { Tape } from "../src/tape.ts";

export const HOUR_MS = 3_600_000;
/** A fixed "now" (2023-11-14T22:13:20Z) for reproducible tapes. */
export const FIXED_NOW = 1_700_000_000_000;

export interface HttpAnswer<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

export async function getJson<T = unknown>(url: string, init?: RequestInit): Promise<HttpAnswer<T>> {
  const response = await fetch(url, init);
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: (text ? JSON.parse(text) : null) as T };
}

/** A GET from a chosen loopback source address (127.0.0.x), to act as another client IP. */
export function getFrom(localAddress: string, url: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { localAddress, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** A REST aggTrades row, as the simulator's own format module defines it. */
export type AggTrade = AggTradeRow;

/** Every trade from `fromId` on, paging by fromId with `limit` per request. */
export async function pageByFromId(restUrl: string, symbol: string, fromId: number, limit = 1000): Promise<AggTrade[]> {
  const trades: AggTrade[] = [];
  let next = fromId;
  for (;;) {
    const { status, body } = await getJson<AggTrade[]>(`${restUrl}/api/v3/aggTrades?symbol=${symbol}&fromId=${next}&limit=${limit}`);
    if (status !== 200) throw new Error(`aggTrades answered ${status}: ${JSON.stringify(body)}`);
    trades.push(...body);
    if (body.length < limit) return trades;
    next = body.at(-1)!.a + 1;
  }
}

/** A tape holding exactly the given records (nothing generated), for hand-checked expectations. */
export function handTape(startMs: number, records: ({ T: number; price: string; qty: string; raw?: number; buyerIsMaker?: boolean } | { T: number; audit: true })[]): Tape {
  const tape = new Tape({ spec: marketSpec("BTCUSDT"), seed: 1, startMs });
  for (const record of records) {
    if ("audit" in record) tape.audit(record.T);
    else tape.trade(record.T, Math.round(Number(record.price) * 100), Math.round(Number(record.qty) * 100_000), record.raw ?? 1, record.buyerIsMaker ?? false);
  }
  return tape;
}

export function sha256(...parts: (ArrayBufferView | string)[]): string {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(typeof part === "string" ? part : new Uint8Array(part.buffer, part.byteOffset, part.byteLength));
  return hash.digest("hex");
}

export const decimalSum = (values: string[]) => values.reduce((sum, value) => sum.plus(value), new Decimal(0));

/** A WebSocket client that records every text message, with helpers to wait for them. */
export class RecordingClient {
  readonly messages: unknown[] = [];
  readonly socket: WebSocket;
  closed: { code: number; reason: string } | null = null;
  pings = 0;

  constructor(url: string, options: WebSocket.ClientOptions = {}) {
    this.socket = new WebSocket(url, options);
    this.socket.on("message", (data) => this.messages.push(JSON.parse(data.toString())));
    this.socket.on("ping", () => this.pings++);
    this.socket.on("close", (code, reason) => (this.closed = { code, reason: reason.toString() }));
    this.socket.on("error", () => undefined);
  }

  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.socket.readyState === WebSocket.OPEN) return resolve();
      this.socket.once("open", () => resolve());
      this.socket.once("unexpected-response", (_req, res) => reject(new Error(`upgrade refused with ${res.statusCode}`)));
      this.socket.once("error", reject);
    });
  }

  async waitForMessages(count: number, timeoutMs = 15_000): Promise<unknown[]> {
    await waitFor(() => this.messages.length >= count, { timeoutMs, what: `${count} WebSocket messages (have ${this.messages.length})` });
    return this.messages;
  }

  async waitForClose(timeoutMs = 10_000): Promise<{ code: number; reason: string }> {
    return waitFor(() => this.closed, { timeoutMs, what: "the connection to close" });
  }

  close(): void {
    this.socket.terminate();
  }
}

/** The status with which the simulator refuses a WebSocket upgrade, and its JSON body. */
export function refusedUpgrade(url: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.on("unexpected-response", (_req, res) => {
      let text = "";
      res.on("data", (chunk: Buffer) => (text += chunk.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    socket.on("open", () => {
      socket.terminate();
      reject(new Error(`upgrade to ${url} was accepted`));
    });
    socket.on("error", () => undefined);
  });
}

/** A REST kline row: [openTime, open, high, low, close, volume, closeTime, quoteVolume, trades, takerBuyBase, takerBuyQuote, "0"]. */
export type KlineRow = [number, string, string, string, string, string, number, string, number, string, string, string];

/**
 * 15 s bars re-aggregated from 1 s (or 1 m ÷ 4 is not possible; any interval dividing 15 s) klines, with flat bars
 * for 15 s intervals no kline covers — the way a consumer would rebuild bars from klines. Agg ids are unknown (null).
 */
export function rollUpKlines(symbol: string, rows: KlineRow[], fromTs: number, toTs: number, previousClose: string | null) {
  const bars = [];
  let i = 0;
  let close = previousClose === null ? null : new Decimal(previousClose);
  for (let ts = fromTs; ts < toTs; ts += 15_000) {
    const group: KlineRow[] = [];
    while (i < rows.length && rows[i]![0] < ts + 15_000) {
      if (rows[i]![0] >= ts && rows[i]![8] > 0) group.push(rows[i]!);
      i++;
    }
    if (group.length === 0) {
      if (close === null) continue;
      const c = close.toNumber();
      bars.push({ symbol, ts, open: c, high: c, low: c, close: c, volume: 0, quote_volume: 0, trades: 0, taker_buy_volume: 0, first_agg_id: null, last_agg_id: null });
      continue;
    }
    const highs = group.map((row) => new Decimal(row[2]));
    const lows = group.map((row) => new Decimal(row[3]));
    close = new Decimal(group.at(-1)![4]);
    bars.push({
      symbol,
      ts,
      open: Number(group[0]![1]),
      high: Decimal.max(...highs).toNumber(),
      low: Decimal.min(...lows).toNumber(),
      close: close.toNumber(),
      volume: decimalSum(group.map((row) => row[5])).toNumber(),
      quote_volume: decimalSum(group.map((row) => row[7])).toNumber(),
      trades: group.reduce((n, row) => n + row[8], 0),
      taker_buy_volume: decimalSum(group.map((row) => row[9])).toNumber(),
      first_agg_id: null,
      last_agg_id: null,
    });
  }
  return bars;
}
