import type { FastifyInstance, FastifyRequest } from "fastify";
import type { SessionRecord } from "@gapfill/contracts";
import type { TokenVerifier, VerifiedUser } from "./auth.ts";
import { ApiError } from "./errors.ts";
import { sessionState, type SessionRegistry } from "./sessions.ts";

/**
 * Who may call a route, declared in its `config.access`:
 * - `bearer`: a verified Supabase access token (`Authorization: Bearer …`);
 * - `session`: a live `session_id` in the query (EventSource cannot send headers); a bearer, if also sent, must
 *   belong to the session's owner;
 * - `session-or-bearer`: either of the two;
 * - `public` (the default): no credentials.
 */
export type Access = "public" | "bearer" | "session" | "session-or-bearer";

declare module "fastify" {
  interface FastifyContextConfig {
    access?: Access;
  }
  interface FastifyRequest {
    /** The verified token's user, when the request carried a bearer token. */
    user: VerifiedUser | null;
    /** The session named by `session_id`, checked active and owned by `user` when both are present. */
    session: SessionRecord | null;
  }
}

const BEARER = /^Bearer ([A-Za-z0-9_.+/=-]+)$/i;

function accessOf(request: FastifyRequest): Access {
  return request.routeOptions.config.access ?? "public";
}

/** The user a request acts for: the token's, else the session's owner. For rate limits and logs. */
export function actingSub(request: FastifyRequest): string | null {
  return request.user?.sub ?? request.session?.sub ?? null;
}

export function registerAccessHooks(
  app: FastifyInstance,
  { verifier, sessions, now }: { verifier: TokenVerifier; sessions: SessionRegistry; now: () => number },
): void {
  app.decorateRequest("user", null);
  app.decorateRequest("session", null);

  // Tokens are checked before the body is read or the query validated, so an anonymous caller learns nothing more.
  app.addHook("onRequest", async (request) => {
    const access = accessOf(request);
    if (access === "public") return;
    const header = request.headers.authorization;
    if (header === undefined) {
      if (access === "bearer") throw new ApiError(401, "missing_token", "send Authorization: Bearer <Supabase access token>");
      return;
    }
    const match = BEARER.exec(header);
    if (!match) throw new ApiError(401, "invalid_authorization", "the Authorization header must be Bearer <token>");
    request.user = await verifier.verify(match[1]!);
  });

  app.addHook("preHandler", async (request) => {
    const access = accessOf(request);
    if (access !== "session" && access !== "session-or-bearer") return;
    const sessionId = (request.query as { session_id?: string } | undefined)?.session_id;
    if (sessionId === undefined) {
      if (request.user) return;
      throw new ApiError(401, "missing_credentials", "pass session_id or Authorization: Bearer <token>");
    }
    const record = await sessions.get(sessionId);
    if (!record) throw new ApiError(404, "unknown_session", "no such session (it may have expired); start a new one");
    if (request.user && request.user.sub !== record.sub) {
      throw new ApiError(403, "not_your_session", "this session belongs to another user");
    }
    const state = sessionState(record, now());
    if (state !== "active") throw new ApiError(410, `session_${state}`, `the session is ${state}; start a new one`);
    request.session = record;
  });
}
