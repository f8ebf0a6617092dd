import { binanceErrors, NUMBER_RANGE, SYMBOL_RANGE } from "./binance-errors.ts";

const NUMBER_PATTERN = /^[0-9]{1,20}$/;
const SYMBOL_PATTERN = /^[A-Z0-9\-_.]{1,20}$/;

/**
 * The query string of one Binance REST request, checked the way Binance checks it: repeated, surplus and unknown
 * parameters first, then each parameter's form as it is read. Every failure is a BinanceError (HTTP 400).
 */
export class BinanceQuery {
  private readonly values = new Map<string, string>();

  constructor(search: URLSearchParams, allowed: readonly string[]) {
    let sent = 0;
    for (const [name, value] of search) {
      if (this.values.has(name)) throw binanceErrors.duplicateParameter();
      this.values.set(name, value);
      sent++;
    }
    if (sent > allowed.length) throw binanceErrors.tooManyParameters(allowed.length, sent);
    const read = [...this.values.keys()].filter((name) => allowed.includes(name)).length;
    if (read < sent) throw binanceErrors.unreadParameters(read, sent);
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  /** The raw value of an optional parameter; an empty value is an error, as on Binance. */
  optional(name: string): string | undefined {
    const value = this.values.get(name);
    if (value === "") throw binanceErrors.emptyParameter(name);
    return value;
  }

  mandatory(name: string): string {
    const value = this.values.get(name);
    if (value === undefined || value === "") throw binanceErrors.mandatory(name);
    return value;
  }

  /** `symbol`: mandatory, in Binance's character range, and one the simulator trades. */
  symbol(known: ReadonlySet<string>): string {
    return checkSymbol(this.mandatory("symbol"), known);
  }

  /** A LONG parameter (ids, epoch ms): digits only. */
  long(name: string): number | undefined {
    const value = this.optional(name);
    if (value === undefined) return undefined;
    const parsed = Number(value);
    if (!NUMBER_PATTERN.test(value) || !Number.isSafeInteger(parsed)) throw binanceErrors.illegalChars(name, NUMBER_RANGE);
    return parsed;
  }

  /** `limit`: default when absent, at least 1, and capped at `max` as Binance caps it. */
  limit(defaultLimit: number, max: number): number {
    const limit = this.long("limit");
    if (limit === undefined) return defaultLimit;
    if (limit < 1) throw binanceErrors.invalidParameter("limit");
    return Math.min(limit, max);
  }
}

export function checkSymbol(symbol: string, known: ReadonlySet<string>): string {
  if (!SYMBOL_PATTERN.test(symbol)) throw binanceErrors.illegalChars("symbol", SYMBOL_RANGE);
  if (!known.has(symbol)) throw binanceErrors.badSymbol();
  return symbol;
}

/**
 * `timeZone` of klines: hours, or hours and minutes ("-1:00", "05:45", "8"), within [-12:00, +14:00]; returns the
 * offset in ms to add to UTC.
 */
export function timeZoneOffsetMs(value: string | undefined): number {
  if (value === undefined) return 0;
  const match = /^([+-]?)(\d{1,2})(?::(\d{2}))?$/.exec(value);
  if (!match) throw binanceErrors.invalidParameter("timeZone");
  const minutes = Number(match[2]) * 60 + Number(match[3] ?? 0);
  const signed = match[1] === "-" ? -minutes : minutes;
  if (Number(match[3] ?? 0) >= 60 || signed < -12 * 60 || signed > 14 * 60) throw binanceErrors.invalidParameter("timeZone");
  return signed * 60_000;
}
