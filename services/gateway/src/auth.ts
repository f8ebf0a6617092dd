import { createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify, type JWTVerifyOptions } from "jose";
import { LRUCache } from "lru-cache";
import { OutageLog, type Logger } from "@gapfill/kit";
import { ApiError } from "./errors.ts";

/** Supabase puts this audience in every signed-in user's access token. */
export const SUPABASE_AUDIENCE = "authenticated";
/** Issuer of the tokens a gateway in local mode signs itself (no SUPABASE_URL). */
export const LOCAL_ISSUER = "gapfill-local";

const ASYMMETRIC_ALGORITHMS = ["ES256", "RS256"];
const MAX_TOKEN_LENGTH = 8192;
/** Tolerated clock difference between the token issuer and us when checking exp and nbf. */
const CLOCK_TOLERANCE_SECONDS = 5;
/**
 * A client sends the same token with every request until it refreshes it: a verified token's signature is not
 * checked again for this long (its expiry and the allowlist are, at every use). Bounds how long a token signed with
 * a key since removed from the JWKS keeps working here, like jose's own JWKS cache does.
 */
const VERIFIED_TOKEN_TTL_MS = 60_000;
const VERIFIED_TOKENS_MAX = 50_000;

export interface TokenVerifierOptions {
  /** Expected `iss`: `<SUPABASE_URL>/auth/v1`, or LOCAL_ISSUER. */
  issuer: string;
  /** JWKS for ES256/RS256 tokens; without it such tokens are refused. */
  jwksUrl?: string;
  /** Secret for HS256 tokens (legacy Supabase projects, local mode); without it HS256 is refused. */
  hs256Secret?: Uint8Array;
  /** `SUPABASE_ALLOW_SUB`: when set, only these users may start sessions. */
  allowSubs?: readonly string[];
  now: () => number;
  /** After a fetch, the JWKS is not fetched again for this long even for an unknown `kid` (jose's cooldown). */
  jwksCooldownMs?: number;
  jwksTimeoutMs?: number;
  /** Where a JWKS that cannot be fetched is logged (once per state change). */
  log?: Logger;
}

export interface VerifiedUser {
  sub: string;
}

export interface TokenVerifier {
  verify(token: string): Promise<VerifiedUser>;
}

function unauthorized(message: string, code = "invalid_token"): ApiError {
  return new ApiError(401, code, message);
}

/** Whether jose failed for want of the signing keys (the JWKS did not arrive), not because of the token. */
function isJwksUnavailable(error: unknown): boolean {
  return error instanceof errors.JWKSTimeout || !(error instanceof errors.JOSEError) || error.code === "ERR_JOSE_GENERIC";
}

/** Turns jose's failure into a message that says what was wrong with the token, never the token itself. */
function describeJoseError(error: unknown): ApiError {
  if (error instanceof errors.JWTExpired) return unauthorized("the token has expired", "token_expired");
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case "nbf":
        return unauthorized("the token is not valid yet (nbf is in the future)");
      case "iss":
        return unauthorized("the token was issued for another project (iss)");
      case "aud":
        return unauthorized(`the token's audience must be ${SUPABASE_AUDIENCE}`);
      default:
        return unauthorized(`the token's ${error.claim} claim is ${error.reason === "missing" ? "missing" : "invalid"}`);
    }
  }
  if (error instanceof errors.JWKSNoMatchingKey) return unauthorized("no signing key matches the token's kid and alg");
  if (error instanceof errors.JWSSignatureVerificationFailed) return unauthorized("the token's signature is invalid");
  if (error instanceof errors.JOSEAlgNotAllowed) return unauthorized("the token's algorithm is not accepted");
  if (isJwksUnavailable(error)) return new ApiError(503, "auth_unavailable", "the signing keys could not be fetched; try again shortly");
  return unauthorized("the token is malformed");
}

/**
 * Verifies Supabase access tokens. The path is chosen by the header's `alg` and each path pins its algorithms:
 * HS256 only against the shared secret, ES256/RS256 only against the JWKS (so `none` and HS256-signed-with-a-public-key
 * never verify). Checks exp, nbf, iss, aud and a non-empty sub, then the allowlist.
 */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const jwks = options.jwksUrl
    ? createRemoteJWKSet(new URL(options.jwksUrl), {
        cooldownDuration: options.jwksCooldownMs ?? 30_000,
        timeoutDuration: options.jwksTimeoutMs ?? 5_000,
      })
    : undefined;
  // Imported once: jose would import a raw secret on every verification.
  const hs256Key = options.hs256Secret
    ? crypto.subtle.importKey("raw", options.hs256Secret, { name: "HMAC", hash: "SHA-256" }, false, ["verify"])
    : undefined;
  const jwksOutage =
    options.jwksUrl && options.log ? new OutageLog(options.log, { what: "JWKS", target: new URL(options.jwksUrl).host }) : undefined;
  const allow = options.allowSubs && options.allowSubs.length > 0 ? new Set(options.allowSubs) : undefined;
  const claims = (): JWTVerifyOptions => ({
    issuer: options.issuer,
    audience: SUPABASE_AUDIENCE,
    requiredClaims: ["sub", "exp"],
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
    currentDate: new Date(options.now()),
  });

  async function verifySignatureAndClaims(token: string, alg: unknown) {
    if (alg === "HS256") {
      if (!hs256Key) throw unauthorized("HS256 tokens are not accepted here");
      return jwtVerify(token, await hs256Key, { ...claims(), algorithms: ["HS256"] });
    }
    if (typeof alg === "string" && ASYMMETRIC_ALGORITHMS.includes(alg)) {
      if (!jwks) throw unauthorized(`${alg} tokens are not accepted here`);
      try {
        const verified = await jwtVerify(token, jwks, { ...claims(), algorithms: ASYMMETRIC_ALGORITHMS });
        jwksOutage?.succeeded();
        return verified;
      } catch (error) {
        if (isJwksUnavailable(error)) jwksOutage?.failed(error, { jwksUrl: options.jwksUrl });
        else jwksOutage?.succeeded();
        throw error;
      }
    }
    throw unauthorized(`tokens signed with ${JSON.stringify(String(alg)).slice(0, 20)} are not accepted`);
  }

  const verified = new LRUCache<string, { sub: string; exp: number }>({
    max: VERIFIED_TOKENS_MAX,
    ttl: VERIFIED_TOKEN_TTL_MS,
    perf: { now: options.now },
  });
  const admit = (sub: string): VerifiedUser => {
    if (allow && !allow.has(sub)) throw new ApiError(403, "user_not_allowed", "this user is not on the gateway's allowlist");
    return { sub };
  };

  return {
    async verify(token) {
      if (token.length > MAX_TOKEN_LENGTH) throw unauthorized("the token is too long");
      const known = verified.get(token);
      if (known) {
        if (options.now() / 1000 > known.exp + CLOCK_TOLERANCE_SECONDS) throw unauthorized("the token has expired", "token_expired");
        return admit(known.sub);
      }
      let alg: unknown;
      try {
        alg = decodeProtectedHeader(token).alg;
      } catch {
        throw unauthorized("the token is malformed");
      }
      let payload;
      try {
        ({ payload } = await verifySignatureAndClaims(token, alg));
      } catch (error) {
        throw error instanceof ApiError ? error : describeJoseError(error);
      }
      if (typeof payload.sub !== "string" || payload.sub.length === 0) throw unauthorized("the token has no sub");
      verified.set(token, { sub: payload.sub, exp: payload.exp! });
      return admit(payload.sub);
    },
  };
}
