import { WIRE_DECIMALS } from "./market.ts";
import type { Tape } from "./tape.ts";

/** An aggregate trade as `GET /api/v3/aggTrades` returns it, fields in Binance's order. */
export interface AggTradeRow {
  a: number;
  p: string;
  q: string;
  f: number;
  l: number;
  T: number;
  m: boolean;
  M: boolean;
}

/**
 * An integer count of 10^-decimals units written with Binance's 8 decimals: (3700012, 2) → "37000.12000000".
 * Exact for any safe integer or bigint: it only moves the decimal point.
 */
export function scaledDecimal(units: number | bigint, decimals: number): string {
  const negative = units < 0;
  const digits = (negative ? -BigInt(units) : BigInt(units)).toString().padStart(decimals + 1, "0");
  const whole = digits.slice(0, digits.length - decimals);
  const fraction = digits.slice(digits.length - decimals).padEnd(WIRE_DECIMALS, "0");
  return `${negative ? "-" : ""}${whole}.${fraction}`;
}

export function priceString(tape: Tape, i: number): string {
  return tape.isAuditAt(i) ? "0" : scaledDecimal(tape.priceTicksAt(i), tape.spec.priceDecimals);
}

export function quantityString(tape: Tape, i: number): string {
  return tape.isAuditAt(i) ? "0" : scaledDecimal(tape.lotsAt(i), tape.spec.qtyDecimals);
}

export function aggTradeRow(tape: Tape, i: number): AggTradeRow {
  return {
    a: tape.aggId(i),
    p: priceString(tape, i),
    q: quantityString(tape, i),
    f: tape.firstTradeIdAt(i),
    l: tape.lastTradeIdAt(i),
    T: tape.timeAt(i),
    m: tape.buyerIsMakerAt(i),
    M: true,
  };
}

/** The `<symbol>@aggTrade` event of trade i, sent at event time `eventMs`. */
export function aggTradeEventJson(tape: Tape, i: number, eventMs: number): string {
  return (
    `{"e":"aggTrade","E":${eventMs},"s":"${tape.spec.symbol}","a":${tape.aggId(i)},"p":"${priceString(tape, i)}",` +
    `"q":"${quantityString(tape, i)}","f":${tape.firstTradeIdAt(i)},"l":${tape.lastTradeIdAt(i)},"T":${tape.timeAt(i)},` +
    `"m":${tape.buyerIsMakerAt(i)},"M":true}`
  );
}
