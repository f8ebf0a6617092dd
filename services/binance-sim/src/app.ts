import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Logger } from "@gapfill/kit";
import { BadRequest, simAdminRoutes, type SimAdminDeps } from "./admin.ts";
import { BinanceError } from "./binance-errors.ts";
import { binanceRestRoutes, ENDPOINT_WEIGHTS, type BinanceRestDeps } from "./rest.ts";
import type { SimCounters } from "./stats.ts";

export interface SimAppDeps {
  rest: BinanceRestDeps;
  admin: SimAdminDeps;
  counters: SimCounters;
  log: Logger;
}

/**
 * The simulator's HTTP side: Binance's REST endpoints under /api/v3 and the simulator's own under /_sim. Binance
 * errors answer as Binance does (`{code, msg}`); every other client error as `{error: {code, message}}`.
 */
export function buildSimApp({ rest, admin, counters, log }: SimAppDeps): FastifyInstance {
  const app: FastifyInstance = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    // A polling client would otherwise write two log lines per request.
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: true,
  });

  app.setErrorHandler((error, request, reply) => {
    if (error instanceof BinanceError) return reply.code(error.status).send(error.body());
    if (error instanceof BadRequest) return reply.code(400).send({ error: { code: "bad_request", message: error.message } });
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    if (status >= 400 && status < 500) {
      return reply.code(status).send({ error: { code: "bad_request", message: (error as Error).message } });
    }
    log.error({ err: error, url: request.url }, "request failed");
    return reply.code(500).send({ error: { code: "internal", message: "internal error" } });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: { code: "not_found", message: `no route ${request.method} ${request.url.split("?")[0]}` } }),
  );
  app.addHook("onResponse", async (request, reply) => {
    const path = request.url.split("?")[0]!;
    // Unknown paths share one counter, so a client cannot grow the stats without bound.
    if (path.startsWith("/api/")) counters.countRequest(path in ENDPOINT_WEIGHTS ? path : "/api/(unknown)", reply.statusCode);
  });

  app.register((api) => binanceRestRoutes(api, rest), { prefix: "/api/v3" });
  app.register((api) => simAdminRoutes(api, admin), { prefix: "/_sim" });
  return app;
}
