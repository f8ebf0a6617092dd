import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SignJWT } from "jose";
import { resolveDataDir } from "@gapfill/kit";
import { LOCAL_ISSUER, SUPABASE_AUDIENCE } from "./auth.ts";

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
  const dataDir = resolveDataDir(source.DATA_DIR);
  const path = join(dataDir, LOCAL_SECRET_FILE);
  const read = async () => new TextEncoder().encode((await readFile(path, "utf8")).trim());
  try {
    return { secret: await read(), origin: path };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  await mkdir(dataDir, { recursive: true });
  try {
    // "wx": if another process created it first, keep theirs so both sign with the same secret.
    await writeFile(path, randomBytes(32).toString("base64url"), { mode: 0o600, flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  return { secret: await read(), origin: path };
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
