import { randomUUID } from "node:crypto";
import cors from "@fastify/cors";
import helmet from "@fastify/helmet";
import rateLimit from "@fastify/rate-limit";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from "fastify";
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from "fastify-type-provider-zod";
import type { NatsConnection } from "@nats-io/transport-node";
import { natsNames, openApiUiEnabled, type GatewayConfig } from "@gapfill/contracts";
import { createMetricsRegistry, type Logger, type Registry } from "@gapfill/kit";
import { actingSub, registerAccessHooks } from "./access.ts";
import { authFromConfig } from "./auth-setup.ts";
import { limitConnections } from "./connection-limits.ts";
import { DEFAULT_TUNING, type GatewayContext, type GatewayStore, type GatewayTuning } from "./context.ts";
import { cursorKeyFrom } from "./cursor.ts";
import { cursorSecret } from "./cursor-secret.ts";
import { ApiError, registerErrorHandling, toErrorResponse } from "./errors.ts";
import { FailureLimiter } from "./failure-limit.ts";
import { createGatewayMetrics } from "./metrics.ts";
import { bootstrapRoutes } from "./routes/bootstrap.ts";
import { devTokenRoutes } from "./routes/dev-token.ts";
import { opsRoutes } from "./routes/ops.ts";
import { pageRoutes } from "./routes/page.ts";
import { predictionRoutes } from "./routes/predictions.ts";
import { sessionRoutes } from "./routes/sessions.ts";
import { streamRoutes } from "./routes/stream.ts";
import { symbolRoutes } from "./routes/symbols.ts";
import { SessionRegistry } from "./sessions.ts";
import { BootstrapPages } from "./pages/bootstrap-pages.ts";
import { PageCache } from "./pages/page-cache.ts";
import { RecordedHints } from "./pages/recorded-hints.ts";
import { SeamReader } from "./seam.ts";
import { Hub } from "./stream/hub.ts";

export interface GatewayDeps {
  config: GatewayConfig;
  log: Logger;
  /** Connected, with the streams and bucket provisioned (`npm run provision`). Owned by the caller. */
  nc: NatsConnection;
  /** Owned by the caller. */
  store: GatewayStore;
  /** Where the gateway's metrics go (served on the metrics port by runService); a private one when omitted. */
  registry?: Registry;
  now?: () => number;
  tuning?: Partial<GatewayTuning>;
}

/** JSON bodies are tiny here ({symbol} or {session_id}); anything larger is refused with 413. */
const BODY_LIMIT_BYTES = 4096;

/**
 * How often Node checks connections against REQUEST_TIMEOUT_SECONDS (its default, 30 s, would let a slow request
 * live up to that much longer than allowed). The check walks only connections with a request in progress.
 */
const CONNECTION_CHECK_INTERVAL_MS = 1_000;

const MINUTE_MS = 60_000;

/**
 * The gateway's Fastify app: sessions, bootstrap pages, prediction history and SSE gap streams over one bar feed per
 * symbol.
 * Resolves once the feeds are subscribed; `app.close()` ends every stream with `shutdown` and releases NATS
 * consumers (the connection and the store stay the caller's).
 */
export async function buildApp(deps: GatewayDeps): Promise<FastifyInstance> {
  const { config, log, nc, store } = deps;
  const now = deps.now ?? Date.now;
  const tuning = { ...DEFAULT_TUNING, ...deps.tuning };
  const names = natsNames(config.NATS_NAMESPACE);
  const metrics = createGatewayMetrics(deps.registry ?? createMetricsRegistry("gateway"));
  const auth = await authFromConfig(config, { now, log, jwksCooldownMs: tuning.jwksCooldownMs });
  const sessions = await SessionRegistry.open(nc, names.buckets.sessions, { now, log });
  const cursor = await cursorSecret(config, auth.localSecret);
  log.info({ secret: cursor.origin }, "bootstrap cursors signed with a key derived from a secret");
  const cursorKey = cursorKeyFrom(cursor.material);
  const seams = new SeamReader(store, () => metrics.storeReads.inc({ query: "seam" }));
  const hints = new RecordedHints(nc, names, config.BINANCE_SYMBOL);
  // Made before the hub, which tells it of every bar it reads (even while hydrating); it asks the hub only later.
  const pages = new BootstrapPages({
    store,
    hub: { feed: (symbol) => hub.feed(symbol), caughtUp: (symbol, timeoutMs) => hub.caughtUp(symbol, timeoutMs) },
    seams,
    hints,
    cache: config.BOOTSTRAP_CACHE_MB > 0 ? new PageCache(config.BOOTSTRAP_CACHE_MB * 1024 * 1024) : null,
    cursorKey,
    onStoreRead: () => metrics.storeReads.inc({ query: "page" }),
    onCacheLookup: (result) => metrics.pageCache.inc({ result }),
  });
  const hub: Hub = await Hub.start({
    nc,
    names,
    symbols: config.BINANCE_SYMBOL,
    windowBars: config.GAP_WINDOW_BARS,
    heartbeatMs: tuning.heartbeatMs,
    now,
    log,
    onFanOut: (written) => metrics.barsSent.inc(written),
    onStoredBar: (symbol, ts) => pages.onStoredBar(symbol, ts),
  });
  const stopWatching = await sessions.watchStops((sessionId) => hub.endSession(sessionId, "stopped"));
  const ctx: GatewayContext = { config, log, store, sessions, hub, auth, metrics, now, tuning, cursorKey, pages, seams };

  const app = Fastify({
    // pino's Logger is a FastifyBaseLogger; the cast keeps the instance's default logger type for route plugins.
    loggerInstance: log as FastifyBaseLogger,
    // Requests are logged by our onResponse hook (route pattern only: query strings carry session ids).
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: "req_id" }),
    genReqId: () => randomUUID(),
    bodyLimit: BODY_LIMIT_BYTES,
    // Headers and body must arrive within REQUEST_TIMEOUT_SECONDS, or 408 and the connection closes; a gap stream's
    // request is complete once its headers are in, so the stream itself is not bounded by it.
    requestTimeout: config.REQUEST_TIMEOUT_SECONDS * 1000,
    http: {
      headersTimeout: config.REQUEST_TIMEOUT_SECONDS * 1000,
      requestTimeout: config.REQUEST_TIMEOUT_SECONDS * 1000,
      connectionsCheckingInterval: CONNECTION_CHECK_INTERVAL_MS,
    },
    // The client address (rate limits, logs), scheme and host come from X-Forwarded-* only when a trusted proxy sent them.
    trustProxy: config.TRUST_PROXY ?? false,
    frameworkErrors: (error, _request, reply) => {
      const { status, body } = toErrorResponse(error);
      void (reply as FastifyReply).code(status).type("application/json").send(body);
    },
  });
  limitConnections(app.server, {
    maxConnections: config.MAX_CONNECTIONS,
    maxPerAddress: config.MAX_CONNECTIONS_PER_IP,
    exempt: config.TRUST_PROXY,
    onRefused: (reason) => metrics.connectionsRefused.inc({ reason }),
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.removeContentTypeParser("text/plain");
  registerErrorHandling(app);

  await app.register(helmet, { global: true });
  await app.register(cors, {
    origin: config.CORS_ORIGINS.includes("*") ? "*" : config.CORS_ORIGINS.length > 0 ? config.CORS_ORIGINS : false,
    methods: ["GET", "POST"],
    allowedHeaders: ["authorization", "content-type", "last-event-id"],
    exposedHeaders: ["x-request-id", "etag"],
    maxAge: 600,
  });
  await app.register(rateLimit, {
    global: false,
    // After the access hooks, so the limit is per user (sub) when one is known, else per client address.
    hook: "preHandler",
    keyGenerator: (request) => actingSub(request) ?? request.ip,
    errorResponseBuilder: (_request, context) =>
      new ApiError(429, "rate_limited", `too many requests; retry in ${Math.ceil(context.ttl / 1000)} s`),
  });
  await app.register(swagger, {
    openapi: {
      info: { title: "gapfill gateway", version: "1.0.0", description: "Sessions, bootstrap pages and SSE gap streams" },
      components: {
        securitySchemes: {
          bearer: { type: "http", scheme: "bearer", bearerFormat: "Supabase access token (JWT)" },
          session: { type: "apiKey", in: "query", name: "session_id" },
        },
      },
    },
    transform: jsonSchemaTransform,
  });
  if (openApiUiEnabled(config)) await app.register(swaggerUi, { routePrefix: "/docs" });

  // Before the access hooks: a client that keeps failing is refused before its token or session costs anything.
  const failures = new FailureLimiter(config.FAILURES_PER_MINUTE, MINUTE_MS, now);
  app.addHook("onRequest", async (request, reply) => {
    const waitMs = failures.blockedForMs(request.ip);
    if (waitMs === 0) return;
    const seconds = Math.ceil(waitMs / 1000);
    reply.header("retry-after", String(seconds));
    throw new ApiError(429, "too_many_failures", `too many failed requests from this address; retry in ${seconds} s`);
  });
  app.addHook("onResponse", async (request, reply) => {
    if (reply.statusCode >= 400 && reply.statusCode < 500 && reply.statusCode !== 429) failures.recordFailure(request.ip);
  });
  registerAccessHooks(app, { verifier: auth.verifier, sessions, now });
  app.addHook("onRequest", async (request, reply) => {
    reply.header("x-request-id", request.id);
  });
  app.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? "unmatched";
    // A gap stream's duration is its lifetime, not a latency.
    const isStream = String(reply.raw.getHeader("content-type") ?? "").startsWith("text/event-stream");
    if (!isStream) {
      metrics.httpDuration.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    }
    request.log.info({ method: request.method, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, "request");
  });

  sessionRoutes(app, ctx);
  bootstrapRoutes(app, ctx);
  predictionRoutes(app, ctx);
  streamRoutes(app, ctx);
  symbolRoutes(app, ctx);
  opsRoutes(app, ctx, nc);
  if (auth.localSecret) devTokenRoutes(app, ctx, auth.localSecret);
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  await pageRoutes(app);

  app.addHook("preClose", async () => {
    stopWatching();
    hints.close();
    await hub.close();
  });
  return app;
}
