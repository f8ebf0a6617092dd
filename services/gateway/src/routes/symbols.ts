import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { symbolsResponseSchema, type SymbolsResponse } from "@gapfill/contracts";
import type { GatewayContext } from "../context.ts";

/** The symbols this gateway serves, for a client's symbol picker; public, like the chart page that asks. */
export function symbolRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  const body: SymbolsResponse = { symbols: [...ctx.config.BINANCE_SYMBOL] };
  app.withTypeProvider<ZodTypeProvider>().get(
    "/symbols",
    {
      schema: {
        summary: "The symbols served here (BINANCE_SYMBOL); a session started without one gets the first",
        tags: ["sessions"],
        response: { 200: symbolsResponseSchema },
      },
    },
    async () => body,
  );
}
