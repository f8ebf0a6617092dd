import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { PREDICTIONS_LIMIT, PREDICTIONS_WINDOW_BARS, predictionsQuerySchema, predictionsResponseSchema } from "@gapfill/contracts";
import { actingSub } from "../access.ts";
import type { GatewayContext } from "../context.ts";
import { errorResponses } from "../errors.ts";
import { readPredictionHistory } from "../prediction-history.ts";
import { knownSymbol } from "./sessions.ts";

/** The history: a chart page loads it when it starts, then follows the gap stream's `prediction` events. */
export function predictionRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  const onStoreRead = () => ctx.metrics.storeReads.inc({ query: "predictions" });
  // GET and HEAD as one route: one rate-limit count for both (Fastify's implicit HEAD route would count apart).
  app.withTypeProvider<ZodTypeProvider>().route({
    method: ["GET", "HEAD"],
    url: "/predictions",
    config: { access: "session-or-bearer", rateLimit: { max: ctx.config.BOOTSTRAP_PER_MINUTE, timeWindow: 60_000 } },
    schema: {
      summary: "Prediction history from ml_predictions: one model version's predictions, oldest first",
      description:
        "The predictions of the model version that made the symbol's newest prediction (or of `model_version`), " +
        `ts >= from_ts (default: the ${PREDICTIONS_WINDOW_BARS.toLocaleString("en")} bar times ending with that ` +
        `version's newest prediction), at most \`limit\` (1 … ${PREDICTIONS_LIMIT.toLocaleString("en")}, default the ` +
        "most). `next_from_ts` is non-null when the limit cut the list: ask again with it and this model_version. " +
        "Then follow the gap stream's `prediction` events (predictions=1); one of another model_version starts " +
        "that model's line.",
      tags: ["predictions"],
      security: [{ bearer: [] }, { session: [] }],
      querystring: predictionsQuerySchema,
      response: {
        200: predictionsResponseSchema,
        ...errorResponses(400, 401, 403, 404, 410, 429, 503),
      },
    },
    handler: async (request, reply) => {
      const { query } = request;
      const symbol = knownSymbol(ctx, query.symbol ?? request.session?.symbol);
      const history = await readPredictionHistory(
        ctx.store,
        { symbol, modelVersion: query.model_version, fromTs: query.from_ts, limit: query.limit ?? PREDICTIONS_LIMIT },
        onStoreRead,
      );
      request.log.debug({ sub: actingSub(request), symbol, version: history.model_version, predictions: history.predictions.length }, "predictions");
      // Each infer tick adds to it: never reused without asking.
      return reply.header("cache-control", "private, no-cache").send(history);
    },
  });
}
