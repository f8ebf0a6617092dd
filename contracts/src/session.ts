import { z } from "zod";
import { symbolSchema } from "./symbol.ts";

const epochMs = z.number().int().nonnegative();

/** Unguessable session id: 32 url-safe base64 characters (24 random bytes). */
export const sessionIdSchema = z.string().regex(/^[A-Za-z0-9_-]{32}$/, "must be a session id returned by /session/start");

/** A session as stored in the `sessions` KV bucket, shared by every gateway replica. */
export const sessionRecordSchema = z.strictObject({
  session_id: sessionIdSchema,
  /** The Supabase user (`sub` claim) that owns the session; only they may use or stop it. */
  sub: z.string().min(1),
  symbol: symbolSchema,
  /** Open time of the newest bar in `price_15s` when the session started; null for an empty table. */
  supabase_last_ts: epochMs.nullable(),
  created_at: epochMs,
  expires_at: epochMs,
  /** Set by /session/stop; watchers on every replica close the session's streams when they see it. */
  stopped_at: epochMs.nullable(),
});
export type SessionRecord = z.infer<typeof sessionRecordSchema>;

export const sessionStartRequestSchema = z.strictObject({ symbol: symbolSchema.optional() });
export type SessionStartRequest = z.infer<typeof sessionStartRequestSchema>;

export const sessionStartResponseSchema = z.strictObject({
  session_id: sessionIdSchema,
  symbol: symbolSchema,
  supabase_last_ts: epochMs.nullable(),
  stream_url: z.url(),
  bootstrap_url: z.url(),
  /** The session's prediction history (`GET /predictions`). */
  predictions_url: z.url(),
  expires_at: epochMs,
});
export type SessionStartResponse = z.infer<typeof sessionStartResponseSchema>;

export const sessionStopRequestSchema = z.strictObject({ session_id: sessionIdSchema });
export type SessionStopRequest = z.infer<typeof sessionStopRequestSchema>;
