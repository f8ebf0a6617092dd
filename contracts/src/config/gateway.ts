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
    /**
     * Base of the absolute URLs handed to clients (`stream_url`, `bootstrap_url`, `predictions_url`), e.g.
     * https://api.example.com. Unset: the scheme and Host of each request, if ALLOWED_HOSTS lists that host. Under
     * NODE_ENV=production this or ALLOWED_HOSTS is required, so a forged Host header never ends up in a URL a client
     * follows.
     */
    PUBLIC_BASE_URL: envUrl(["http", "https"]).optional(),
    /**
     * Without PUBLIC_BASE_URL: comma list of the hosts (`host` or `host:port`) clients may reach the gateway by; the
     * URLs handed out use the request's Host when it is one of them, and a session start naming another host is
     * refused (400 invalid_host). Unset outside production: any well-formed Host.
     */
    ALLOWED_HOSTS: envList(z.string().toLowerCase().regex(/^([a-z0-9-]+(\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(:\d{1,5})?$/, "expected host names like api.example.com or host:port")).optional(),
    /**
     * Comma list of reverse proxies (addresses or CIDR ranges, e.g. 127.0.0.1,172.16.0.0/12) whose
     * X-Forwarded-For, -Proto and -Host are believed: the client address rate limits count by is then the one the
     * proxy names, and connections from the proxies are exempt from MAX_CONNECTIONS_PER_IP. Unset: the socket's peer.
     */
    TRUST_PROXY: envList(z.union([z.ipv4(), z.ipv6(), z.cidrv4(), z.cidrv6()], { error: "expected IP addresses or CIDR ranges like 10.0.0.0/8" })).optional(),
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
    /**
     * Only `production` matters here: it turns the LOCAL_AUTH and OPENAPI_UI defaults off and requires
     * PUBLIC_BASE_URL (or ALLOWED_HOSTS) and a cursor secret (CURSOR_SECRET, or SUPABASE_JWT_SECRET, or local mode's).
     */
    NODE_ENV: z.string().trim().optional(),
    /** Rate limit of `POST /session/start` and of `POST /session/stop`, each, per user (`sub`). */
    SESSION_START_PER_MINUTE: envInt(30, 1, 1_000_000),
    /** Rate limit of `GET /bootstrap` and of `GET /predictions`, each, per user (token or session owner). */
    BOOTSTRAP_PER_MINUTE: envInt(300, 1, 1_000_000),
    /** Rate limit of opening `GET /stream/gap` per user (the session's owner). */
    GAP_STREAM_PER_MINUTE: envInt(120, 1, 1_000_000),
    /** Open gap streams one session may hold on one gateway process; more are refused with 429. */
    GAP_STREAMS_PER_SESSION: envInt(4, 1, 1000),
    /**
     * Failed requests (any 4xx but 429: bad tokens, unknown sessions, unknown paths) one client address may make in a
     * minute; after that every request from it is answered 429 until the minute is over, before its token or session
     * is looked at. A client that works makes almost none; 60 leaves room for many users behind one NAT.
     */
    FAILURES_PER_MINUTE: envInt(60, 1, 1_000_000),
    /**
     * Seconds a client has to send a request's headers and body; then 408 and the connection is closed. Bodies here
     * are at most 4 KiB; 10 s is plenty on a slow mobile link. Responses (gap streams) are not bounded by it.
     */
    REQUEST_TIMEOUT_SECONDS: envInt(10, 1, 600),
    /**
     * Open connections one gateway process accepts; more are answered 503 and closed. About 10,000 gap streams are
     * what one process was measured serving (docs/benchmarks.md).
     */
    MAX_CONNECTIONS: envInt(10_000, 1, 1_000_000),
    /**
     * Open connections one client address may hold on one process, and open gap streams; more are answered 429. A
     * browser opens at most 6 connections to one origin over HTTP/1.1, so 64 serves about ten behind one NAT.
     * Connections from TRUST_PROXY addresses are exempt (the proxy carries many clients); the gap streams of the
     * clients it names are still counted per client.
     */
    MAX_CONNECTIONS_PER_IP: envInt(64, 1, 1_000_000),
    /**
     * Key of the MAC that makes bootstrap cursors tamper-evident (at least 32 characters), the same on every replica.
     * Unset: SUPABASE_JWT_SECRET or the local-mode secret when there is one, else a secret generated into DATA_DIR,
     * which NODE_ENV=production refuses (replicas would not accept each other's cursors).
     */
    CURSOR_SECRET: z.string().min(32, "expected at least 32 characters").optional(),
    /**
     * Serve the OpenAPI browser UI at /docs (its scripts and styles come from swagger-ui). Unset: on, except when
     * NODE_ENV is production. `/openapi.json` is always served: it is what client generators read.
     */
    OPENAPI_UI: envBool(true).unwrap().optional(),
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
  }, whenFieldsValid)
  .superRefine((config, ctx) => {
    if (config.NODE_ENV !== "production") return;
    if (!config.PUBLIC_BASE_URL && !config.ALLOWED_HOSTS?.length) {
      ctx.addIssue({
        code: "custom",
        path: ["PUBLIC_BASE_URL"],
        message:
          "required when NODE_ENV=production: the base of the URLs handed to clients (like https://api.example.com), " +
          "or else ALLOWED_HOSTS, the hosts clients may name; otherwise any Host header would be copied into them",
      });
    }
    if (config.SUPABASE_URL && !config.SUPABASE_JWT_SECRET && !config.CURSOR_SECRET) {
      ctx.addIssue({
        code: "custom",
        path: ["CURSOR_SECRET"],
        message:
          "required when NODE_ENV=production and SUPABASE_URL is set without SUPABASE_JWT_SECRET: the key that makes " +
          "bootstrap cursors tamper-evident, the same on every replica (at least 32 random characters)",
      });
    }
  }, whenFieldsValid);
export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;

/** Whether /docs serves the OpenAPI UI: OPENAPI_UI when set, else on everywhere but NODE_ENV=production. */
export function openApiUiEnabled(config: { OPENAPI_UI?: boolean | undefined; NODE_ENV?: string | undefined }): boolean {
  return config.OPENAPI_UI ?? config.NODE_ENV !== "production";
}

/** Whether local mode may run: LOCAL_AUTH when set, else on everywhere but NODE_ENV=production. */
export function localAuthEnabled(config: { LOCAL_AUTH?: boolean | undefined; NODE_ENV?: string | undefined }): boolean {
  return config.LOCAL_AUTH ?? config.NODE_ENV !== "production";
}
