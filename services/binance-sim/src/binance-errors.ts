/**
 * Binance's error payload `{code, msg}` with the codes and message forms of its documented error list
 * (binance-spot-api-docs errors.md); every bad parameter is an HTTP 400.
 */
export class BinanceError extends Error {
  override name = "BinanceError";
  readonly code: number;
  readonly status: number;

  constructor(
    code: number,
    message: string,
    status = 400,
  ) {
    super(message);
    this.code = code;
    this.status = status;
  }

  body(): { code: number; msg: string } {
    return { code: this.code, msg: this.message };
  }
}

export const NUMBER_RANGE = "^[0-9]{1,20}$";
export const SYMBOL_RANGE = "^[A-Z0-9-_.]{1,20}$";

export const binanceErrors = {
  illegalChars: (param: string, range: string) =>
    new BinanceError(-1100, `Illegal characters found in parameter '${param}'; legal range is '${range}'.`),
  tooManyParameters: (expected: number, received: number) =>
    new BinanceError(-1101, `Too many parameters; expected '${expected}' and received '${received}'.`),
  duplicateParameter: () => new BinanceError(-1101, "Duplicate values for a parameter detected."),
  mandatory: (param: string) =>
    new BinanceError(-1102, `Mandatory parameter '${param}' was not sent, was empty/null, or malformed.`),
  unreadParameters: (read: number, sent: number) =>
    new BinanceError(-1104, `Not all sent parameters were read; read '${read}' parameter(s) but was sent '${sent}'.`),
  emptyParameter: (param: string) => new BinanceError(-1105, `Parameter '${param}' was empty.`),
  badInterval: () => new BinanceError(-1120, "Invalid interval."),
  badSymbol: () => new BinanceError(-1121, "Invalid symbol."),
  lookupTooBig: (hours: number) => new BinanceError(-1127, `More than ${hours} hours between startTime and endTime.`),
  badCombination: () => new BinanceError(-1128, "Combination of optional parameters invalid."),
  invalidParameter: (param: string) => new BinanceError(-1130, `Data sent for parameter '${param}' is not valid.`),
};
