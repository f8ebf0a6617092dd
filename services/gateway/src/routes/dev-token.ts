import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { devTokenRequestSchema, devTokenResponseSchema } from "@gapfill/contracts";
import type { GatewayContext } from "../context.ts";
import { errorResponses } from "../errors.ts";
import { signLocalToken } from "../local-mode.ts";

const DEV_TOKEN_TTL_SECONDS = 3600;

/** Local mode only (registered when SUPABASE_URL is unset): a token for the chart page, like `npm run token`. */
export function devTokenRoutes(app: FastifyInstance, ctx: GatewayContext, secret: Uint8Array): void {
  app.withTypeProvider<ZodTypeProvider>().post(
    "/dev/token",
    {
      config: { rateLimit: { max: ctx.config.SESSION_START_PER_MINUTE, timeWindow: 60_000 } },
      schema: {
        summary: "Local mode only: a token the gateway accepts (404 when SUPABASE_URL is set)",
        tags: ["local mode"],
        body: devTokenRequestSchema.nullish(),
        response: { 200: devTokenResponseSchema, ...errorResponses(400, 429) },
      },
    },
    async (request) => {
      const { token, expiresAt } = await signLocalToken(secret, {
        sub: request.body?.sub ?? "local-user",
        ttlSeconds: DEV_TOKEN_TTL_SECONDS,
        nowMs: ctx.now(),
      });
      return { access_token: token, token_type: "bearer" as const, expires_at: expiresAt };
    },
  );
}
