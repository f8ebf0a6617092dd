import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import {
  sessionStartRequestSchema,
  sessionStartResponseSchema,
  sessionStopRequestSchema,
  sessionStopResponseSchema,
  type SessionStartResponse,
} from "@gapfill/contracts";
import type { GatewayContext } from "../context.ts";
import { ApiError, errorResponses } from "../errors.ts";

const sessionErrors = errorResponses(400, 401, 403, 404, 429);

/** Whether ALLOWED_HOSTS lets a client name this host: an entry `host` allows it on any port, `host:port` on that one. */
function isAllowedHost(allowed: readonly string[], url: URL): boolean {
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  return allowed.some((entry) => entry === url.hostname || entry === `${url.hostname}:${port}`);
}

/**
 * PUBLIC_BASE_URL, else the scheme and Host of the request: checked, since the Host header is the client's, and
 * required to be in ALLOWED_HOSTS when that is set.
 */
function publicBase(ctx: GatewayContext, request: FastifyRequest): string {
  if (ctx.config.PUBLIC_BASE_URL) return ctx.config.PUBLIC_BASE_URL;
  let url: URL | null = null;
  try {
    url = new URL(`${request.protocol}://${request.host}`);
  } catch {
    // not a host: refused below
  }
  const bareHost = url && url.pathname === "/" && !url.search && !url.hash && !url.username && !url.password;
  if (!url || !bareHost) throw new ApiError(400, "invalid_host", "the Host header is not a valid host[:port]");
  const allowed = ctx.config.ALLOWED_HOSTS;
  if (allowed && !isAllowedHost(allowed, url)) throw new ApiError(400, "invalid_host", "the Host header names a host this gateway does not serve");
  return url.origin;
}

export function knownSymbol(ctx: GatewayContext, symbol: string | undefined): string {
  const chosen = symbol ?? ctx.config.BINANCE_SYMBOL[0]!;
  if (!ctx.config.BINANCE_SYMBOL.includes(chosen)) {
    throw new ApiError(400, "unknown_symbol", `${chosen} is not served here; symbols: ${ctx.config.BINANCE_SYMBOL.join(", ")}`);
  }
  return chosen;
}

export function sessionRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();

  routes.post(
    "/session/start",
    {
      config: { access: "bearer", rateLimit: { max: ctx.config.SESSION_START_PER_MINUTE, timeWindow: 60_000 } },
      schema: {
        summary: "Start a session: learn where bootstrap ends and the gap stream begins, and their URLs",
        tags: ["sessions"],
        security: [{ bearer: [] }],
        body: sessionStartRequestSchema.nullish(),
        response: { 201: sessionStartResponseSchema, ...sessionErrors },
      },
    },
    async (request, reply) => {
      const symbol = knownSymbol(ctx, request.body?.symbol);
      const base = publicBase(ctx, request);
      // Not simply the newest bar: a hole the recorder has yet to fill must lie above the seam, in the gap stream.
      const seam = await ctx.seams.read(symbol);
      const record = await ctx.sessions.start(request.user!.sub, symbol, seam);
      ctx.metrics.sessionsStarted.inc();
      request.log.info({ sub: record.sub, symbol, session: record.session_id.slice(0, 6) }, "session started");
      const query = `session_id=${record.session_id}`;
      const body: SessionStartResponse = {
        session_id: record.session_id,
        symbol,
        supabase_last_ts: record.supabase_last_ts,
        stream_url: `${base}/stream/gap?${query}`,
        bootstrap_url: `${base}/bootstrap?${query}`,
        predictions_url: `${base}/predictions?${query}`,
        expires_at: record.expires_at,
      };
      return reply.code(201).send(body);
    },
  );

  routes.post(
    "/session/stop",
    {
      config: { access: "bearer", rateLimit: { max: ctx.config.SESSION_START_PER_MINUTE, timeWindow: 60_000 } },
      schema: {
        summary: "Stop a session; its streams close on every replica",
        tags: ["sessions"],
        security: [{ bearer: [] }],
        body: sessionStopRequestSchema,
        response: { 200: sessionStopResponseSchema, ...sessionErrors },
      },
    },
    async (request) => {
      const record = await ctx.sessions.get(request.body.session_id);
      if (!record) throw new ApiError(404, "unknown_session", "no such session (it may have expired)");
      if (record.sub !== request.user!.sub) throw new ApiError(403, "not_your_session", "only the session's owner may stop it");
      const stopped = await ctx.sessions.stop(record);
      if (record.stopped_at === null) ctx.metrics.sessionsStopped.inc();
      // This replica closes its streams at once; the others (and this one, again harmlessly) via the KV watch.
      ctx.hub.endSession(record.session_id, "stopped");
      return { session_id: stopped.session_id, stopped_at: stopped.stopped_at! };
    },
  );
}
