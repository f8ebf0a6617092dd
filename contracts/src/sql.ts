/** SQL files of the storage contract, in the order they are applied. Paths only: reading them is the caller's I/O. */
export const SQL_MIGRATIONS: readonly { name: string; url: URL }[] = [
  { name: "001_price_15s", url: new URL("../sql/001_price_15s.sql", import.meta.url) },
  { name: "002_ai_outputs", url: new URL("../sql/002_ai_outputs.sql", import.meta.url) },
  { name: "003_ml_predictions", url: new URL("../sql/003_ml_predictions.sql", import.meta.url) },
];

/**
 * Supabase-only SQL, pasted once into the SQL editor after the migrations: row level security for the Data API
 * keys (the anon key reads price_15s and ml_predictions, nothing else).
 */
export const SUPABASE_SETUP_SQL: readonly { name: string; url: URL }[] = [
  { name: "price_15s_read_policy", url: new URL("../sql/supabase/price_15s_read_policy.sql", import.meta.url) },
  { name: "ai_outputs_row_security", url: new URL("../sql/supabase/ai_outputs_row_security.sql", import.meta.url) },
  { name: "ml_predictions_read_policy", url: new URL("../sql/supabase/ml_predictions_read_policy.sql", import.meta.url) },
];

export const PRICE_TABLE = "price_15s";
export const AI_OUTPUTS_TABLE = "ai_outputs";
export const ML_PREDICTIONS_TABLE = "ml_predictions";

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
