import { localAuthEnabled, type GatewayConfig } from "@gapfill/contracts";
import type { Logger } from "@gapfill/kit";
import { createTokenVerifier, LOCAL_ISSUER, type TokenVerifier } from "./auth.ts";
import { loadLocalSecret } from "./local-mode.ts";

export interface GatewayAuth {
  mode: "supabase" | "local";
  verifier: TokenVerifier;
  /** Local mode only: the secret `POST /dev/token` signs with. */
  localSecret?: Uint8Array;
}

export interface AuthSetupOptions {
  now: () => number;
  log: Logger;
  jwksCooldownMs?: number;
}

/**
 * Supabase mode when SUPABASE_URL is set (JWKS and/or the legacy HS256 secret), else local mode, which the config
 * allows only when LOCAL_AUTH is on (its default outside NODE_ENV=production).
 */
export async function authFromConfig(config: GatewayConfig, { now, log, jwksCooldownMs }: AuthSetupOptions): Promise<GatewayAuth> {
  const allowSubs = config.SUPABASE_ALLOW_SUB;
  if (config.SUPABASE_URL) {
    const jwksUrl = config.SUPABASE_JWKS_URL ?? `${config.SUPABASE_URL}/auth/v1/.well-known/jwks.json`;
    const hs256 = config.SUPABASE_JWT_SECRET !== undefined;
    log.info({ jwksUrl, hs256, allowlist: allowSubs?.length ?? 0 }, "auth: Supabase tokens");
    return {
      mode: "supabase",
      verifier: createTokenVerifier({
        issuer: `${config.SUPABASE_URL}/auth/v1`,
        jwksUrl,
        hs256Secret: hs256 ? new TextEncoder().encode(config.SUPABASE_JWT_SECRET) : undefined,
        allowSubs,
        now,
        jwksCooldownMs,
        log,
      }),
    };
  }
  // The schema refuses this combination; a hand-built config must not slip into local mode either.
  if (!localAuthEnabled(config)) throw new Error("SUPABASE_URL is unset and LOCAL_AUTH is off: no way to verify tokens");
  const { secret, origin } = await loadLocalSecret(config);
  log.warn(
    { secret: origin === "LOCAL_JWT_SECRET" ? origin : `file ${origin}` },
    "auth: LOCAL MODE (SUPABASE_URL is unset, LOCAL_AUTH on): accepting HS256 tokens signed with a local secret; " +
      "get one with `npm run token -- --sub <id>` or POST /dev/token",
  );
  return {
    mode: "local",
    verifier: createTokenVerifier({ issuer: LOCAL_ISSUER, hs256Secret: secret, allowSubs, now }),
    localSecret: secret,
  };
}
