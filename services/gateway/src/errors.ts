import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { errorBodySchema, type ErrorBody } from "@gapfill/contracts";
import { isNatsUnavailable, StoreInputError, StoreUnavailableError } from "@gapfill/kit";

/** An error a handler throws on purpose: its status, stable code and message reach the client as they are. */
export class ApiError extends Error {
  override name = "ApiError";
  readonly statusCode: number;
  readonly code: string;

  constructor(
    statusCode: number,
    code: string,
    message: string,
  ) {
    super(message);
    this.statusCode = statusCode;
    this.code = code;
  }
}

/** The OpenAPI responses of a route's error statuses, every one an `{error: {code, message}}` body. */
export function errorResponses<S extends number>(...statuses: S[]): Record<S, typeof errorBodySchema> {
  return Object.fromEntries(statuses.map((status) => [status, errorBodySchema])) as Record<S, typeof errorBodySchema>;
}

export function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}

/** Fastify's own client errors, renamed to our codes; messages are ours so nothing a client sent is echoed. */
const FRAMEWORK_ERRORS: Record<string, { code: string; message?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: "body_too_large", message: "request body is larger than allowed" },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: "unsupported_media_type", message: "send the body as application/json" },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: "invalid_content_length", message: "content-length does not match the body" },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: "invalid_json", message: "a body with content-type application/json must not be empty" },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: "invalid_json", message: "the body is not valid JSON" },
  FST_ERR_BAD_URL: { code: "bad_url", message: "the URL is not well formed" },
  FST_ERR_INVALID_URL: { code: "bad_url", message: "the URL is not well formed" },
};

type ValidationIssue = { instancePath?: string; message?: string };

function describeValidation(error: FastifyError): string {
  const where = error.validationContext ?? "request";
  const issues = (error.validation ?? []) as ValidationIssue[];
  if (issues.length === 0) return `invalid ${where}`;
  return issues
    .map((issue) => {
      const path = (issue.instancePath ?? "").replace(/^\//, "").replaceAll("/", ".");
      return `${where}${path ? `.${path}` : ""}: ${issue.message ?? "is invalid"}`;
    })
    .join("; ");
}

/**
 * What a 503 tells a client to wait (`Retry-After`, seconds): a backend outage (a database restart, a NATS leader
 * election) is rarely over sooner, and clients that retry at once only add load to one that is recovering.
 */
export const RETRY_AFTER_SECONDS = 5;

/**
 * Maps any error to `{error: {code, message}}`: client mistakes keep their 4xx, a backend that did not serve the
 * request (the store, NATS) is a 503, anything else is a logged 500. What the backend answered is in the logs, not
 * in the body.
 */
export function toErrorResponse(error: FastifyError | ApiError | Error): { status: number; body: ErrorBody } {
  if (error instanceof ApiError) return { status: error.statusCode, body: errorBody(error.code, error.message) };
  // The store refused a query before any I/O: the request asked for something no page can hold.
  if (error instanceof StoreInputError) return { status: 400, body: errorBody("invalid_request", error.message) };
  if (error instanceof StoreUnavailableError) {
    return { status: 503, body: errorBody("store_unavailable", "the bar store did not answer; try again after Retry-After seconds") };
  }
  if (isNatsUnavailable(error)) {
    return { status: 503, body: errorBody("nats_unavailable", "the message broker did not answer; try again after Retry-After seconds") };
  }
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    return { status: 400, body: errorBody("invalid_request", describeValidation(fastifyError)) };
  }
  const status = fastifyError.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    const known = fastifyError.code ? FRAMEWORK_ERRORS[fastifyError.code] : undefined;
    if (known) return { status, body: errorBody(known.code, known.message ?? fastifyError.message) };
    return { status, body: errorBody("bad_request", "the request could not be understood") };
  }
  return { status: 500, body: errorBody("internal", "internal error; the request id is in the x-request-id header") };
}

const METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"] as const;

/** JSON errors everywhere: handler errors, validation, framework errors, unknown routes and wrong methods. */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const { status, body } = toErrorResponse(error);
    // A backend outage is logged once per state change where it is met (the store, the session registry, auth).
    if (status === 503) {
      request.log.debug({ err: error, code: body.error.code }, "backend unavailable");
      reply.header("retry-after", String(RETRY_AFTER_SECONDS));
    } else if (status >= 500) request.log.error({ err: error }, "request failed");
    else request.log.debug({ code: body.error.code }, "client error");
    return reply.code(status).type("application/json").send(body);
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split("?")[0] ?? "/";
    const allowed = METHODS.filter((method) => app.hasRoute({ url: path, method }));
    // A handler's own callNotFound (a static file it will not serve) is a 404 even though its route exists.
    if (allowed.length > 0 && !(allowed as readonly string[]).includes(request.method)) {
      return reply
        .code(405)
        .header("allow", allowed.join(", "))
        .send(errorBody("method_not_allowed", `${request.method} is not allowed here; use ${allowed.join(" or ")}`));
    }
    return reply.code(404).send(errorBody("not_found", `no route for ${request.method} ${path}`));
  });
}
