import type { OutgoingHttpHeaders } from "node:http";
import type { FastifyInstance, FastifyReply } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { BAR_MS, barTsParamSchema, gapStreamQuerySchema, type EndReason, type SessionRecord } from "@gapfill/contracts";
import type { GatewayContext } from "../context.ts";
import { ApiError, errorResponses } from "../errors.ts";
import type { BarFeed } from "../stream/bar-feed.ts";
import { GapStream, type GapStreamShared } from "../stream/gap-stream.ts";
import type { PredictionFeed } from "../stream/prediction-feed.ts";
import { SSE_HEADERS } from "../stream/sse-format.ts";

function isoOf(ts: number): string {
  return new Date(ts).toISOString();
}

/** Bars with ts > the returned value are sent; checks it against the clock and the stream's retention. */
async function resumePoint(
  ctx: GatewayContext,
  feed: BarFeed,
  session: SessionRecord,
  requested: number | undefined,
): Promise<number> {
  if (requested !== undefined && requested > ctx.now()) {
    throw new ApiError(400, "from_ts_in_future", `from_ts ${requested} (${isoOf(requested)}) is in the future`);
  }
  let afterTs = requested ?? session.supabase_last_ts;
  if (afterTs !== null && afterTs >= feed.floor) return afterTs;
  const earliest = await ctx.hub.earliestBarTs(session.symbol);
  // An empty table (supabase_last_ts null): the gap is everything the stream still holds.
  afterTs ??= earliest === null ? -Infinity : earliest - BAR_MS;
  if (earliest !== null && afterTs < earliest - BAR_MS) {
    throw new ApiError(
      400,
      "from_ts_too_old",
      `from_ts ${afterTs} is older than the stream keeps; the earliest available bar is ${earliest} (${isoOf(earliest)})`,
    );
  }
  return afterTs;
}

/** Whether the session was stopped (or removed) after the access check read it. */
async function stoppedSinceChecked(ctx: GatewayContext, session: SessionRecord): Promise<boolean> {
  try {
    const current = await ctx.sessions.get(session.session_id);
    return current === null || current.stopped_at !== null;
  } catch (error) {
    // NATS unreachable: the stream goes on; a stop the watch delivers later still ends it.
    ctx.log.warn({ err: error }, "could not re-read a session before its stream started");
    return false;
  }
}

export function streamRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  const { hub, metrics, tuning, config } = ctx;
  const limits = { ...tuning, maxLiveMs: config.GAP_STREAM_MAX_MINUTES * 60_000 };
  const onBarsSent = (count: number) => metrics.barsSent.inc(count);
  const onEnd = (ended: GapStream, reason: EndReason | "client_closed") => {
    hub.remove(ended);
    metrics.streamsOpen.dec();
    metrics.streamEnds.inc({ reason });
    if (reason === "slow_consumer") metrics.slowConsumers.inc();
    ctx.log.info({ reason, session: ended.sessionId.slice(0, 6) }, "gap stream ended");
  };
  const shared = new Map<string, GapStreamShared>();
  /**
   * Open streams by client address (the one a trusted proxy names): behind a proxy, the connection cap per address
   * sees only the proxy, so streams are counted here too.
   */
  const streamsByAddress = new Map<string, number>();
  const sharedBy = (symbol: string, feed: BarFeed, predictions: PredictionFeed): GapStreamShared => {
    let forSymbol = shared.get(symbol);
    if (!forSymbol) {
      forSymbol = { feed, predictions, now: ctx.now, log: ctx.log, limits, replayOlder: hub.replayOlder(symbol), onBarsSent, onEnd };
      shared.set(symbol, forSymbol);
    }
    return forSymbol;
  };

  // GET and HEAD as one route, so they share one rate-limit count; a HEAD is answered with the headers at once.
  app.withTypeProvider<ZodTypeProvider>().route({
    method: ["GET", "HEAD"],
    url: "/stream/gap",
    config: { access: "session", rateLimit: { max: config.GAP_STREAM_PER_MINUTE, timeWindow: 60_000 } },
    schema: {
      summary: "Server-Sent Events: every closed bar after from_ts, then live bars",
      description:
        "Events: `bar` (id = ts), `live` once caught up, `partial` with partial=1, `end` with a reason before the " +
        "server closes. With predictions=1 also `prediction` (no id; data: {symbol, ts, prob_up, model_version, " +
        "scored_at}): the symbol's newest prediction as the stream starts, then each one ml-infer publishes, so the " +
        "same ts comes again when a new model re-scores it. Reconnect with Last-Event-ID (header or last_event_id) " +
        "to resume after that bar; predictions never move it.",
      tags: ["bars"],
      security: [{ session: [] }],
      querystring: gapStreamQuerySchema,
      response: {
        ...errorResponses(400, 401, 403, 404, 410, 429),
      },
    },
    handler: async (request, reply) => {
      const session = request.session!;
      const query = request.query;
      const feed = hub.feed(session.symbol);
      const predictions = hub.predictions(session.symbol);
      if (!feed || !predictions) throw new ApiError(400, "unknown_symbol", `${session.symbol} is no longer served here`);
      const header = request.headers["last-event-id"];
      let lastEventId: number | undefined;
      if (header !== undefined) {
        const parsed = barTsParamSchema.safeParse(header);
        if (!parsed.success) throw new ApiError(400, "invalid_last_event_id", "Last-Event-ID must be the id of a bar event");
        lastEventId = parsed.data;
      }
      await feed.ready;
      const afterTs = await resumePoint(ctx, feed, session, lastEventId ?? query.last_event_id ?? query.from_ts);
      // Checked after the last await and before hub.add, with nothing in between to yield: streams starting
      // concurrently cannot both take the last slot.
      const limit = config.GAP_STREAMS_PER_SESSION;
      if (hub.openStreams(session.session_id) >= limit) {
        throw new ApiError(429, "too_many_streams", `a session may have at most ${limit} open streams here; close one first`);
      }
      const address = request.ip;
      const fromAddress = streamsByAddress.get(address) ?? 0;
      if (fromAddress >= config.MAX_CONNECTIONS_PER_IP) {
        throw new ApiError(429, "too_many_connections", "too many open streams from this address; close one first");
      }
      // What a GET would answer, without the stream: a HEAD never takes one of the session's stream slots.
      if (request.method === "HEAD") return (reply as FastifyReply).code(200).headers(SSE_HEADERS).send();

      reply.hijack();
      const res = reply.raw;
      // Headers set by earlier hooks (CORS, helmet, x-request-id) are copied: a hijacked reply sends nothing itself.
      res.writeHead(200, { ...(reply.getHeaders() as OutgoingHttpHeaders), ...SSE_HEADERS });
      const stream = new GapStream(sharedBy(session.symbol, feed, predictions), {
        sessionId: session.session_id,
        res,
        afterTs,
        toTs: query.to_ts ?? null,
        partial: query.partial ?? false,
        predictions: query.predictions ?? false,
        expiresAt: session.expires_at,
      });
      hub.add(stream);
      metrics.streamsOpen.inc();
      streamsByAddress.set(address, fromAddress + 1);
      res.once("close", () => {
        const left = (streamsByAddress.get(address) ?? 1) - 1;
        if (left === 0) streamsByAddress.delete(address);
        else streamsByAddress.set(address, left);
      });
      // A stop that landed after the access check (here, or another replica's via the KV watch) found no stream to
      // end; now that this one is registered a later stop finds it, so one more read closes the window.
      if (await stoppedSinceChecked(ctx, session)) return stream.end("stopped");
      await stream.start();
    },
  });
}
