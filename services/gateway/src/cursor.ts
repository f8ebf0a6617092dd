import { createHmac, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { isAlignedBarTs, symbolSchema } from "@gapfill/contracts";

/**
 * The bootstrap keyset cursor: where the next (older) page starts and the bounds of the walk it belongs to.
 * Encoded as `<base64url JSON>.<base64url 128-bit HMAC>`, so it is opaque to clients and any edit is detected.
 */
export interface PageCursor {
  symbol: string;
  /** The next page holds bars with ts < before. */
  before: number;
  fromTs: number | null;
  toTs: number | null;
}

const barTs = z.number().refine(isAlignedBarTs, "must be a bar open time");
const payloadSchema = z.strictObject({
  s: symbolSchema,
  b: barTs,
  f: barTs.nullable(),
  t: barTs.nullable(),
});

/**
 * The cursor MAC key, the same on every replica: derived from a secret they share (see cursorSecret), so a cursor
 * can be neither edited nor made up by a client. A cursor is still no capability: it names bars the caller could
 * ask for with from_ts/to_ts anyway; the MAC keeps the walk it belongs to (and the page cache keys) honest.
 */
export function cursorKeyFrom(material: string | Uint8Array): Uint8Array {
  return createHmac("sha256", "gapfill bootstrap cursor").update(material).digest();
}

function mac(key: Uint8Array, payload: string): Buffer {
  return createHmac("sha256", key).update(payload).digest().subarray(0, 16);
}

export function encodeCursor(cursor: PageCursor, key: Uint8Array): string {
  const payload = Buffer.from(
    JSON.stringify({ s: cursor.symbol, b: cursor.before, f: cursor.fromTs, t: cursor.toTs }),
  ).toString("base64url");
  return `${payload}.${mac(key, payload).toString("base64url")}`;
}

/** The cursor, or null when it was not made by `encodeCursor` with this key (edited, truncated, foreign). */
export function decodeCursor(text: string, key: Uint8Array): PageCursor | null {
  const dot = text.indexOf(".");
  if (dot <= 0) return null;
  const payload = text.slice(0, dot);
  // Compared as text: base64 has several spellings of the same bytes, and any edit must be refused.
  const given = Buffer.from(text.slice(dot + 1));
  const expected = Buffer.from(mac(key, payload).toString("base64url"));
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
  } catch {
    return null;
  }
  const parsed = payloadSchema.safeParse(json);
  if (!parsed.success) return null;
  return { symbol: parsed.data.s, before: parsed.data.b, fromTs: parsed.data.f, toTs: parsed.data.t };
}
