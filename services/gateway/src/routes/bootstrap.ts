import { Negotiator } from "@fastify/accept-negotiator";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { bootstrapColumnsPageSchema, bootstrapPageSchema, bootstrapQuerySchema, type BootstrapQuery } from "@gapfill/contracts";
import { actingSub } from "../access.ts";
import type { GatewayContext } from "../context.ts";
import { decodeCursor } from "../cursor.ts";
import { ApiError, errorResponses } from "../errors.ts";
import type { PageRequest } from "../pages/bootstrap-pages.ts";
import { EncodedPage, matchesEtag } from "../pages/encoded-page.ts";
import { pageBody } from "../pages/page-body.ts";
import { knownSymbol } from "./sessions.ts";

/** A page that can no longer change is cached by the browser for a year; others are revalidated by ETag. */
const IMMUTABLE_PAGE = "private, max-age=31536000, immutable";
const MUTABLE_PAGE = "private, no-cache";
/** The body depends on the credentials (a session's supabase_last_ts) and on the accepted codings. */
const VARY = "authorization, accept-encoding";

const codings = new Negotiator<"br" | "gzip">({ supportedValues: ["br", "gzip"], cache: new Map() });

/** The page a request asks for, normalized; null when it asks for nothing (the gap stream has every bar). */
function pageRequestOf(ctx: GatewayContext, request: FastifyRequest, query: BootstrapQuery): PageRequest | null {
  const pageLimit = ctx.config.BOOTSTRAP_PAGE_LIMIT;
  const limit = query.limit ?? pageLimit;
  if (limit > pageLimit) throw new ApiError(400, "limit_too_large", `limit must be at most ${pageLimit}`);
  const format = query.format ?? "rows";
  if (query.cursor !== undefined) {
    const cursor = decodeCursor(query.cursor, ctx.cursorKey);
    if (!cursor) throw new ApiError(400, "invalid_cursor", "cursor was not issued by this gateway or was altered");
    const conflicts =
      (query.symbol !== undefined && query.symbol !== cursor.symbol) ||
      (query.from_ts !== undefined && query.from_ts !== cursor.fromTs) ||
      (query.to_ts !== undefined && query.to_ts !== cursor.toTs);
    if (conflicts) throw new ApiError(400, "cursor_mismatch", "symbol, from_ts and to_ts must match the cursor's walk (or be left out)");
    const { before, fromTs, toTs } = cursor;
    return { format, symbol: knownSymbol(ctx, cursor.symbol), before, fromTs, toTs, limit };
  }
  const symbol = knownSymbol(ctx, query.symbol ?? request.session?.symbol ?? ctx.config.BINANCE_SYMBOL[0]!);
  // A session started on an empty table has its gap stream replay everything JetStream holds: bootstrap adds
  // nothing, or the two would overlap.
  if (query.to_ts === undefined && request.session?.supabase_last_ts === null) return null;
  return { format, symbol, fromTs: query.from_ts ?? null, toTs: query.to_ts ?? request.session?.supabase_last_ts ?? null, limit };
}

export function bootstrapRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  const freshness = new WeakMap<FastifyRequest, ReturnType<typeof ctx.pages.checkFreshness>>();
  // GET and HEAD as one route: one rate-limit count for both (Fastify's implicit HEAD route would count apart).
  app.withTypeProvider<ZodTypeProvider>().route({
    method: ["GET", "HEAD"],
    url: "/bootstrap",
    config: { access: "session-or-bearer", rateLimit: { max: ctx.config.BOOTSTRAP_PER_MINUTE, timeWindow: 60_000 } },
    // The freshness check of a cached page is a NATS round trip: started as the request comes (for the symbol it
    // names, else the first served), it runs while the request is authenticated and validated. Not for a cursor:
    // older pages are mostly immutable, and one that is not gets its check when it is looked up.
    onRequest: async (request) => {
      const { symbol: named, cursor } = request.query as { symbol?: unknown; cursor?: unknown };
      if (cursor !== undefined) return;
      const symbol = typeof named === "string" && ctx.config.BINANCE_SYMBOL.includes(named) ? named : ctx.config.BINANCE_SYMBOL[0]!;
      freshness.set(request, ctx.pages.checkFreshness(symbol));
    },
    schema: {
      summary: "History from price_15s, newest to oldest, one keyset page at a time",
      description:
        "Follow next_cursor until it is null. With a session and no to_ts, pages end at the session's supabase_last_ts " +
        "(none at all when it is null), so bootstrap and the gap stream meet without overlap. `format=columns` returns " +
        "the same bars as one array per field (about half the bytes); pass it with every cursor. Strong ETags: send " +
        "If-None-Match to get 304 while the page is unchanged.",
      tags: ["bars"],
      security: [{ bearer: [] }, { session: [] }],
      querystring: bootstrapQuerySchema,
      response: {
        200: z.union([bootstrapPageSchema, bootstrapColumnsPageSchema]),
        ...errorResponses(400, 401, 403, 404, 410, 429),
      },
    },
    handler: async (request, reply) => {
      const wanted = pageRequestOf(ctx, request, request.query);
      const symbol = wanted?.symbol ?? request.session!.symbol;
      const served = wanted
        ? await ctx.pages.get(wanted, freshness.get(request))
        : { page: new EncodedPage(pageBody(request.query.format ?? "rows", symbol, [], null)), immutable: false, bars: 0, cached: false };
      const { page } = served;
      const coding = page.codingFor(codings.negotiate(request.headers["accept-encoding"] ?? ""));
      const etag = page.etag(coding);
      // Sent as bytes (the ETag names these exact bytes), so through the untyped reply.
      const raw = reply as FastifyReply;
      raw
        .header("cache-control", served.immutable ? IMMUTABLE_PAGE : MUTABLE_PAGE)
        .header("etag", etag)
        .header("vary", VARY)
        .header("server-timing", `app;dur=${raw.elapsedTime.toFixed(2)};desc="${served.cached ? "cache" : "store"}"`);
      request.log.debug({ sub: actingSub(request), symbol, bars: served.bars, cached: served.cached }, "bootstrap page");
      if (matchesEtag(request.headers["if-none-match"], etag)) return raw.code(304).send();
      if (coding !== "identity") raw.header("content-encoding", coding);
      return raw.type("application/json; charset=utf-8").send(await page.body(coding));
    },
  });
}
