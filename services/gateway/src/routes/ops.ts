import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { NatsConnection } from "@nats-io/transport-node";
import { errorBodySchema } from "@gapfill/contracts";
import type { GatewayContext } from "../context.ts";
import { errorBody } from "../errors.ts";

const READY_TIMEOUT_MS = 2_000;

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Liveness, readiness (NATS, the store and the bar feeds), Prometheus metrics. */
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
        await within(nc.flush(), READY_TIMEOUT_MS, "NATS");
        await within(ctx.store.ping(), READY_TIMEOUT_MS, "the store");
        await within(ctx.hub.ready(), READY_TIMEOUT_MS, "the bar feeds");
        return { status: "ready" as const };
      } catch (error) {
        return reply.code(503).send(errorBody("not_ready", (error as Error).message));
      }
    },
  );

  app.get("/metrics", { schema: { hide: true } }, async (_request, reply) => {
    const body = await ctx.metrics.registry.metrics();
    return reply.type(ctx.metrics.registry.contentType).send(body);
  });
}
