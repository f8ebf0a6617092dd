import { SignJWT } from "jose";
import { LOCAL_ISSUER, SUPABASE_AUDIENCE } from "./auth.ts";
import { loadOrCreateSecret } from "./secret-file.ts";

/**
 * Local mode (no SUPABASE_URL): the gateway signs and accepts its own HS256 tokens, so the stack runs on one
 * machine without a Supabase project. The secret comes from LOCAL_JWT_SECRET or a file in DATA_DIR that the first
 * user (gateway or `npm run token`) creates with mode 0600.
 */
export const LOCAL_SECRET_FILE = "gateway-local-jwt.secret";

export interface LocalSecretSource {
  LOCAL_JWT_SECRET?: string | undefined;
  DATA_DIR: string;
}

export async function loadLocalSecret(source: LocalSecretSource): Promise<{ secret: Uint8Array; origin: string }> {
  if (source.LOCAL_JWT_SECRET) {
    return { secret: new TextEncoder().encode(source.LOCAL_JWT_SECRET), origin: "LOCAL_JWT_SECRET" };
  }
  const { secret, path } = await loadOrCreateSecret(source.DATA_DIR, LOCAL_SECRET_FILE);
  return { secret, origin: path };
}

/** A token that a gateway in local mode with the same secret accepts; shaped like a Supabase access token. */
export async function signLocalToken(
  secret: Uint8Array,
  { sub, ttlSeconds, nowMs }: { sub: string; ttlSeconds: number; nowMs: number },
): Promise<{ token: string; expiresAt: number }> {
  const issuedAt = Math.floor(nowMs / 1000);
  const expiresAt = issuedAt + ttlSeconds;
  const token = await new SignJWT({ role: "authenticated" })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer(LOCAL_ISSUER)
    .setAudience(SUPABASE_AUDIENCE)
    .setSubject(sub)
    .setIssuedAt(issuedAt)
    .setExpirationTime(expiresAt)
    .sign(secret);
  return { token, expiresAt: expiresAt * 1000 };
}
