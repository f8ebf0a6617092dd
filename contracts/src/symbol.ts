import { z } from "zod";

/** A Binance spot symbol as used in subjects, keys and URLs: upper-case letters and digits only. */
export const SYMBOL_PATTERN = /^[A-Z0-9]{2,20}$/;

export const symbolSchema = z
  .string()
  .regex(SYMBOL_PATTERN, "must be 2-20 upper-case letters or digits, like BTCUSDT");

export type MarketSymbol = z.infer<typeof symbolSchema>;
