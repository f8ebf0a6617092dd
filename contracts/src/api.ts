import { z } from "zod";
import { closedBarSchema, type ClosedBar } from "./bar.ts";
import { modelVersionSchema } from "./model.ts";
import { predictionEventSchema } from "./prediction.ts";
import { sessionIdSchema } from "./session.ts";
import { symbolSchema } from "./symbol.ts";
import { BAR_MS, isAlignedBarTs } from "./time.ts";

/**
 * What crosses the gateway's HTTP boundary besides sessions: query strings, bootstrap pages and error bodies.
 * Query values arrive as strings, so each parameter schema states the digits it accepts and converts them.
 */

/** 2100-01-01T00:00:00Z: no bar time at or past it is plausible, so larger values are rejected as malformed. */
export const MAX_EPOCH_MS = 4_102_444_800_000;

/** An aligned bar open time given as decimal digits in a query string (`from_ts=1700000000000`). */
export const barTsParamSchema = z
  .string()
  .regex(/^\d{1,13}$/, "must be epoch milliseconds (decimal digits)")
  .transform(Number)
  .refine((ts) => ts <= MAX_EPOCH_MS, "must be before 2100-01-01")
  .refine(isAlignedBarTs, `must be a bar open time (a multiple of ${BAR_MS})`);

/** A yes/no query flag (`?partial=1`, `?predictions=1`). */
const flagParamSchema = z
  .enum(["0", "1", "true", "false"], { error: "must be 1 or 0" })
  .transform((v) => v === "1" || v === "true");

/** A count in a query string (`limit=500`): at least 1; each route states its own maximum. */
const countParamSchema = z
  .string()
  .regex(/^\d{1,7}$/, "must be a positive integer")
  .transform(Number)
  .refine((n) => n >= 1, "must be at least 1");

/** Opaque bootstrap cursor: url-safe base64 payload, a dot, and its MAC. */
export const cursorParamSchema = z.string().regex(/^[A-Za-z0-9_-]{1,400}\.[A-Za-z0-9_-]{22}$/, "must be a next_cursor returned by /bootstrap");

/** Rejects `from_ts >= to_ts` when both are given; the path names the parameter to fix. */
function checkTimeOrder(q: { from_ts?: number | undefined; to_ts?: number | undefined }, ctx: z.RefinementCtx): void {
  if (q.from_ts !== undefined && q.to_ts !== undefined && q.to_ts < q.from_ts) {
    ctx.addIssue({ code: "custom", path: ["to_ts"], message: "must not be before from_ts" });
  }
}

export const bootstrapQuerySchema = z
  .strictObject({
    session_id: sessionIdSchema.optional(),
    cursor: cursorParamSchema.optional(),
    limit: countParamSchema.optional(),
    /** Oldest bar open time to include (inclusive). */
    from_ts: barTsParamSchema.optional(),
    /** Newest bar open time to include (inclusive); with a session it defaults to the session's supabase_last_ts. */
    to_ts: barTsParamSchema.optional(),
    symbol: symbolSchema.optional(),
    /** `rows` (default): an array of bar objects; `columns`: one array per field, about half the bytes. */
    format: z.enum(["rows", "columns"], { error: "must be rows or columns" }).optional(),
  })
  .superRefine(checkTimeOrder);
export type BootstrapQuery = z.infer<typeof bootstrapQuerySchema>;

export const bootstrapPageSchema = z.strictObject({
  symbol: symbolSchema,
  /** Newest first. */
  bars: z.array(closedBarSchema),
  /** Pass back as `cursor` for the next (older) page; null on the last page. */
  next_cursor: z.string().nullable(),
});
export type BootstrapPage = z.infer<typeof bootstrapPageSchema>;

/**
 * `format=columns`: the same bars as parallel arrays, newest first (index i of every array is one bar), and the same
 * next_cursor. Field names and meanings are those of a bar.
 */
export const bootstrapColumnsPageSchema = z.strictObject({
  symbol: symbolSchema,
  ts: z.array(z.number().int()),
  open: z.array(z.number()),
  high: z.array(z.number()),
  low: z.array(z.number()),
  close: z.array(z.number()),
  volume: z.array(z.number()),
  quote_volume: z.array(z.number()),
  trades: z.array(z.number().int()),
  taker_buy_volume: z.array(z.number()),
  first_agg_id: z.array(z.number().int().nullable()),
  last_agg_id: z.array(z.number().int().nullable()),
  next_cursor: z.string().nullable(),
});
export type BootstrapColumnsPage = z.infer<typeof bootstrapColumnsPageSchema>;

/** The bar fields in the order the columns format lists them (after `symbol`). */
export const BAR_COLUMNS = [
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
] as const satisfies readonly (keyof BootstrapColumnsPage & keyof ClosedBar)[];

export const gapStreamQuerySchema = z
  .strictObject({
    session_id: sessionIdSchema,
    /** Send closed bars with ts > from_ts; defaults to the session's supabase_last_ts. */
    from_ts: barTsParamSchema.optional(),
    /** Send bars up to and including to_ts, then `event: end` with reason `to_ts`. */
    to_ts: barTsParamSchema.optional(),
    /** `1`: also `event: partial`, the forming bar. */
    partial: flagParamSchema.optional(),
    /** `1`: also `event: prediction`, the symbol's newest prediction at connect, then each new one (no `id:`). */
    predictions: flagParamSchema.optional(),
    /** For clients that cannot set the Last-Event-ID header; the header wins when both are present. */
    last_event_id: barTsParamSchema.optional(),
  })
  .superRefine(checkTimeOrder);
export type GapStreamQuery = z.infer<typeof gapStreamQuerySchema>;

/**
 * Most predictions one `GET /predictions` answer holds, and its default. As many as the default window has bar times,
 * so that window always fits in one answer, even with an embedding (and so a prediction) at every bar.
 */
export const PREDICTIONS_LIMIT = 10_000;

/**
 * The default window of `GET /predictions`: this many bar times, ending with the newest prediction's. 10,000 bars
 * (about 41.7 h) is what the chart page loads, two bootstrap pages of 5,000.
 */
export const PREDICTIONS_WINDOW_BARS = 10_000;

export const predictionsQuerySchema = z.strictObject({
  session_id: sessionIdSchema.optional(),
  /** Defaults to the session's symbol, else the first served. */
  symbol: symbolSchema.optional(),
  /** The version whose predictions to list; defaults to the version of the symbol's newest prediction. */
  model_version: modelVersionSchema.optional(),
  /** Oldest prediction ts to include (inclusive); defaults to PREDICTIONS_WINDOW_BARS bars back from the newest. */
  from_ts: barTsParamSchema.optional(),
  limit: countParamSchema.refine((n) => n <= PREDICTIONS_LIMIT, `must be at most ${PREDICTIONS_LIMIT}`).optional(),
});
export type PredictionsQuery = z.infer<typeof predictionsQuerySchema>;

/** One prediction of a `GET /predictions` answer; its symbol and model version are the answer's. */
export const predictionPointSchema = predictionEventSchema.pick({ ts: true, prob_up: true });
export type PredictionPoint = z.infer<typeof predictionPointSchema>;

export const predictionsResponseSchema = z.strictObject({
  symbol: symbolSchema,
  /** The version every listed prediction is of; null when the symbol has no prediction yet. */
  model_version: modelVersionSchema.nullable(),
  /** Oldest first. */
  predictions: z.array(predictionPointSchema),
  /** When `limit` cut the list: the from_ts (with this model_version) of the next predictions; else null. */
  next_from_ts: z.number().int().nonnegative().nullable(),
});
export type PredictionsResponse = z.infer<typeof predictionsResponseSchema>;

/** `GET /symbols`: the symbols this gateway serves (`BINANCE_SYMBOL`); a session without one gets the first. */
export const symbolsResponseSchema = z.strictObject({
  symbols: z.array(symbolSchema).min(1),
});
export type SymbolsResponse = z.infer<typeof symbolsResponseSchema>;

export const sessionStopResponseSchema = z.strictObject({
  session_id: sessionIdSchema,
  stopped_at: z.number().int().nonnegative(),
});
export type SessionStopResponse = z.infer<typeof sessionStopResponseSchema>;

/** Local mode only: a token the gateway accepts, for the chart page and `npm run token`. */
export const devTokenRequestSchema = z.strictObject({
  sub: z.string().regex(/^[A-Za-z0-9_.@:-]{1,128}$/, "must be 1-128 letters, digits or _ . @ : -").optional(),
});
export const devTokenResponseSchema = z.strictObject({
  access_token: z.string(),
  token_type: z.literal("bearer"),
  expires_at: z.number().int().nonnegative(),
});
export type DevTokenResponse = z.infer<typeof devTokenResponseSchema>;

/** Every error the gateway returns: a stable machine code and a sentence for people. */
export const errorBodySchema = z.strictObject({
  error: z.strictObject({
    code: z.string(),
    message: z.string(),
  }),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;
