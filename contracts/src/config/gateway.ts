import { z } from "zod";
import { commonEnv, metricsHostEnv } from "./common.ts";
import { envBool, envInt, envList, envNumber, envUrl, portSchema, whenFieldsValid } from "./env.ts";
import { refineStoreAccess, storeEnv } from "./store.ts";

export const gatewayConfigSchema = z
  .object({
    ...commonEnv,
    ...metricsHostEnv,
    ...storeEnv,
    PORT: portSchema(8000),
    /** Prometheus /metrics (and /healthz, /readyz of the process) on a port of its own, off the public API. */
    GATEWAY_METRICS_PORT: portSchema(9103),
    /** Interface the HTTP API listens on. */
    HOST: z.string().trim().min(1).default("0.0.0.0"),
    /** Base of the absolute URLs handed to clients; the request's host when unset. */
    PUBLIC_BASE_URL: envUrl(["http", "https"]).optional(),
    /** Origins allowed to call the API from a browser; `*` for any. Unset: same-origin only. */
    CORS_ORIGINS: envList(z.string().regex(/^(\*|https?:\/\/[^\s,/]+)$/, "expected origins like https://app.example.com or *")).default([]),
    /** HS256 secret of a legacy Supabase project, for its access tokens. */
    SUPABASE_JWT_SECRET: z.string().min(16, "expected the project's JWT secret (at least 16 characters)").optional(),
    /** JWKS of ES256/RS256 access tokens; unset: `<SUPABASE_URL>/auth/v1/.well-known/jwks.json`. */
    SUPABASE_JWKS_URL: envUrl(["http", "https"]).optional(),
    /** Comma list of user ids (`sub`) allowed to start sessions; unset: every verified user. */
    SUPABASE_ALLOW_SUB: envList(z.string().min(1)).optional(),
    /** Largest bootstrap page (bars). */
    BOOTSTRAP_PAGE_LIMIT: envInt(5000, 1, 100_000),
    /**
     * Memory for encoded bootstrap pages (identity, gzip and br bytes of each), least recently used evicted first; 0
     * turns the cache off. 128 MiB holds about 70 pages of 5,000 bars, a small part of a t3.medium's 4 GiB.
     */
    BOOTSTRAP_CACHE_MB: envInt(128, 0, 65_536),
    /** How long a gap stream follows live bars before `event: end` (max_duration). */
    GAP_STREAM_MAX_MINUTES: envNumber(15, 0.01, 24 * 60),
    /** Local mode (no SUPABASE_URL): the HS256 secret; generated into DATA_DIR on first use when unset. */
    LOCAL_JWT_SECRET: z.string().min(32, "expected at least 32 characters").optional(),
    /**
     * Local mode without SUPABASE_URL: accept tokens signed with the local secret and serve POST /dev/token. Unset:
     * on, except when NODE_ENV is production, where it must be asked for (see localAuthEnabled).
     */
    LOCAL_AUTH: envBool(true).unwrap().optional(),
    /** Only `production` matters here: it turns the LOCAL_AUTH default off. */
    NODE_ENV: z.string().trim().optional(),
    /** Rate limits per user (`sub`), or per client IP before a user is known. */
    SESSION_START_PER_MINUTE: envInt(30, 1, 1_000_000),
    /** Rate limit of `GET /bootstrap` per user (token or session owner). */
    BOOTSTRAP_PER_MINUTE: envInt(300, 1, 1_000_000),
    /** Rate limit of opening `GET /stream/gap` per user (the session's owner). */
    GAP_STREAM_PER_MINUTE: envInt(120, 1, 1_000_000),
    /** Open gap streams one session may hold on one gateway process; more are refused with 429. */
    GAP_STREAMS_PER_SESSION: envInt(4, 1, 1000),
    /** Closed bars each gateway keeps in memory per symbol; replays older than this read JetStream directly. */
    GAP_WINDOW_BARS: envInt(5760, 10, 1_000_000),
  })
  .superRefine(refineStoreAccess("read"), whenFieldsValid)
  .superRefine((config, ctx) => {
    if (config.SUPABASE_URL || localAuthEnabled(config)) return;
    ctx.addIssue({
      code: "custom",
      path: ["LOCAL_AUTH"],
      message:
        "no way to verify tokens: set SUPABASE_URL for Supabase auth, or LOCAL_AUTH=true for local mode " +
        "(locally signed tokens and POST /dev/token; off by default when NODE_ENV=production)",
    });
  }, whenFieldsValid);
export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;

/** Whether local mode may run: LOCAL_AUTH when set, else on everywhere but NODE_ENV=production. */
export function localAuthEnabled(config: { LOCAL_AUTH?: boolean | undefined; NODE_ENV?: string | undefined }): boolean {
  return config.LOCAL_AUTH ?? config.NODE_ENV !== "production";
}
