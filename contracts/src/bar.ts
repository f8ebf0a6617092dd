import { z } from "zod";
import { BAR_MS, isAlignedBarTs } from "./time.ts";
import { SYMBOL_PATTERN, symbolSchema } from "./symbol.ts";

/** A bar open time: integer epoch ms, a multiple of BAR_MS. */
export const barTsSchema = z
  .number()
  .int("must be an integer epoch-ms open time")
  .nonnegative()
  .refine(isAlignedBarTs, { message: `must be a multiple of ${BAR_MS} (a bar open time)` });
const price = z.number().finite().positive();
const amount = z.number().finite().nonnegative();
const aggId = z.number().int().nonnegative().nullable();

const barFields = {
  symbol: symbolSchema,
  ts: barTsSchema,
  open: price,
  high: price,
  low: price,
  close: price,
  volume: amount,
  quote_volume: amount,
  trades: z.number().int().nonnegative(),
  taker_buy_volume: amount,
  first_agg_id: aggId,
  last_agg_id: aggId,
};

type BarLike = { open: number; high: number; low: number; close: number; volume: number; taker_buy_volume: number };
type AggIds = { first_agg_id: number | null; last_agg_id: number | null };

/** Cross-field rules every bar obeys; each issue names the field it is about. */
function checkBarConsistency(bar: BarLike & AggIds, ctx: z.RefinementCtx): void {
  if (bar.high < bar.low) ctx.addIssue({ code: "custom", path: ["high"], message: "must be >= low" });
  if (bar.high < Math.max(bar.open, bar.close))
    ctx.addIssue({ code: "custom", path: ["high"], message: "must be >= open and close" });
  if (bar.low > Math.min(bar.open, bar.close))
    ctx.addIssue({ code: "custom", path: ["low"], message: "must be <= open and close" });
  if (bar.taker_buy_volume > bar.volume)
    ctx.addIssue({ code: "custom", path: ["taker_buy_volume"], message: "must be <= volume" });
  if ((bar.first_agg_id === null) !== (bar.last_agg_id === null))
    ctx.addIssue({ code: "custom", path: ["last_agg_id"], message: "must be null exactly when first_agg_id is null" });
  if (bar.first_agg_id !== null && bar.last_agg_id !== null && bar.last_agg_id < bar.first_agg_id)
    ctx.addIssue({ code: "custom", path: ["last_agg_id"], message: "must be >= first_agg_id" });
}

/** A closed 15 s bar as published on `bars.15s.<SYMBOL>` and sent as SSE `event: bar`. */
export const closedBarSchema = z.strictObject(barFields).superRefine(checkBarConsistency);
export type ClosedBar = z.infer<typeof closedBarSchema>;

const BAR_KEYS = Object.keys(barFields);
const isPrice = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v > 0;
const isAmount = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0;
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/**
 * True only for values closedBarSchema accepts unchanged: the decoder's fast path (a zod parse costs several µs a
 * bar; this a fraction of one). It may refuse more than the schema does, never less, so a caller that gets false
 * asks the schema, which also says why.
 */
export function isClosedBar(value: unknown): value is ClosedBar {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const bar = value as Record<string, unknown>;
  let keys = 0;
  for (const key in bar) {
    if (!Object.hasOwn(barFields, key)) return false;
    keys++;
  }
  if (keys !== BAR_KEYS.length) return false;
  const { symbol, ts, open, high, low, close, volume, taker_buy_volume: takerBuy, first_agg_id: first, last_agg_id: last } = bar;
  if (typeof symbol !== "string" || !SYMBOL_PATTERN.test(symbol) || typeof ts !== "number" || !isAlignedBarTs(ts)) return false;
  if (!isPrice(open) || !isPrice(high) || !isPrice(low) || !isPrice(close)) return false;
  if (!isAmount(volume) || !isAmount(bar.quote_volume) || !isAmount(takerBuy) || !isCount(bar.trades)) return false;
  if (high < low || high < Math.max(open, close) || low > Math.min(open, close) || takerBuy > volume) return false;
  if (first === null || last === null) return first === null && last === null;
  return isCount(first) && isCount(last) && last >= first;
}

/** The bar still forming, published on `live.15s.<SYMBOL>` (core NATS) and sent as SSE `event: partial`. */
export const formingBarSchema = z
  .strictObject({
    ...barFields,
    /** Trade time (epoch ms) of the newest trade folded into the bar; null while it has none. */
    as_of: z.number().int().nonnegative().nullable(),
  })
  .superRefine(checkBarConsistency);
export type FormingBar = z.infer<typeof formingBarSchema>;

/** NATS message id of a closed bar: one id per symbol and open time, so JetStream de-duplicates republishes. */
export function barMsgId(symbol: string, ts: number): string {
  return `${symbol}:${ts}`;
}

/** A flat bar for an interval without trades: every price equals the previous close, volumes and counts zero. */
export function flatBar(symbol: string, ts: number, previousClose: number): ClosedBar {
  return {
    symbol,
    ts,
    open: previousClose,
    high: previousClose,
    low: previousClose,
    close: previousClose,
    volume: 0,
    quote_volume: 0,
    trades: 0,
    taker_buy_volume: 0,
    first_agg_id: null,
    last_agg_id: null,
  };
}
