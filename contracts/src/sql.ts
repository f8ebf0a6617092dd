/** SQL files of the storage contract, in the order they are applied. Paths only: reading them is the caller's I/O. */
export const SQL_MIGRATIONS: readonly { name: string; url: URL }[] = [
  { name: "001_price_15s", url: new URL("../sql/001_price_15s.sql", import.meta.url) },
  { name: "002_ai_outputs", url: new URL("../sql/002_ai_outputs.sql", import.meta.url) },
];

export const PRICE_TABLE = "price_15s";
export const AI_OUTPUTS_TABLE = "ai_outputs";

/** Columns of `price_15s` in the order of the closed-bar wire shape. */
export const PRICE_COLUMNS = [
  "symbol",
  "ts",
  "open",
  "high",
  "low",
  "close",
  "volume",
  "quote_volume",
  "trades",
  "taker_buy_volume",
  "first_agg_id",
  "last_agg_id",
] as const;
