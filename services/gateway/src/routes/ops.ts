import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { NatsConnection } from "@nats-io/transport-node";
import { errorBodySchema } from "@gapfill/contracts";
import { withTimeout } from "@gapfill/kit";
import type { GatewayContext } from "../context.ts";
import { errorBody } from "../errors.ts";

const READY_TIMEOUT_MS = 2_000;

/** Liveness and readiness (NATS, the store and the bar feeds). Metrics are on the metrics port, not here. */
export function opsRoutes(app: FastifyInstance, ctx: GatewayContext, nc: NatsConnection): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();

  routes.get(
    "/healthz",
    { schema: { summary: "The process is up", tags: ["operations"], response: { 200: z.object({ status: z.literal("ok") }) } } },
    async () => ({ status: "ok" as const }),
  );

  routes.get(
    "/readyz",
    {
      schema: {
        summary: "NATS and the store answer, and the bar feeds have caught up",
        tags: ["operations"],
        response: { 200: z.object({ status: z.literal("ready") }), 503: errorBodySchema },
      },
    },
    async (_request, reply) => {
      try {
        if (nc.isClosed()) throw new Error("the NATS connection is closed");
        await withTimeout(nc.flush(), READY_TIMEOUT_MS, "NATS");
        await withTimeout(ctx.store.ping(), READY_TIMEOUT_MS, "the store");
        await withTimeout(ctx.hub.ready(), READY_TIMEOUT_MS, "the bar feeds");
        return { status: "ready" as const };
      } catch (error) {
        return reply.code(503).send(errorBody("not_ready", (error as Error).message));
      }
    },
  );
}
