import type { Logger } from "./log.ts";

/** Causes followed at most: a cycle or a very deep chain ends here. */
const MAX_CAUSES = 5;

/** One error without its causes: a service error's name and message, a system error's message (which names its code). */
function describeOne(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return error.errors.map(describeFailure).join("; ");
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  const label = error.name !== "Error" ? error.name : typeof code === "string" ? code : "";
  if (!error.message) return label || "unknown error";
  return label && !error.message.includes(label) ? `${label}: ${error.message}` : error.message;
}

/**
 * A failure in one line, with the causes that say why: `fetch failed: getaddrinfo ENOTFOUND data-api.binance.vision`,
 * `fetch failed: connect ECONNREFUSED 127.0.0.1:9000`, `fetch failed: CERT_HAS_EXPIRED: certificate has expired`,
 * `NoSuchBucket: The specified bucket does not exist`. Node's fetch says only "fetch failed" and keeps the reason in
 * `error.cause`; a host name with several addresses fails as an AggregateError with one error per address.
 */
export function describeFailure(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < MAX_CAUSES && current !== undefined && current !== null; depth++) {
    const cause = current instanceof Error && !(current instanceof AggregateError && current.errors.length > 0) ? current.cause : undefined;
    // A wrapper's class (TypeError, FetchError) says nothing its cause does not say better.
    const text = cause !== undefined && current instanceof Error && current.message ? current.message : describeOne(current);
    if (!parts.some((part) => part.includes(text))) parts.push(text);
    current = cause;
  }
  return parts.join(": ");
}

export interface OutageLogOptions {
  /** What is called, in words: "Binance REST", "Supabase Data API", "JWKS". */
  what: string;
  /** Where it is, never with credentials: a host, host:port or URL. */
  target: string;
  now?: () => number;
}

/**
 * The state of an outbound dependency (up or down), logged when it changes rather than at every retry: the first
 * failure logs a warning with the cause, a failure with another cause logs again, repeats are counted at debug, and
 * the first success after failures logs the recovery once, with how long it took. So a person reading the log sees
 * at once why nothing arrives, and an outage of an hour is three lines, not a thousand.
 */
export class OutageLog {
  private failures = 0;
  private cause: string | null = null;
  private downSince = 0;
  private readonly now: () => number;

  private readonly log: Logger;
  private readonly options: OutageLogOptions;

  constructor(
    log: Logger,
    options: OutageLogOptions,
  ) {
    this.log = log;
    this.options = options;
    this.now = options.now ?? Date.now;
  }

  get down(): boolean {
    return this.failures > 0;
  }

  /** A failed attempt; `fields` add context to the line (an endpoint, the next retry's delay). */
  failed(error: unknown, fields: Record<string, unknown> = {}): void {
    const cause = describeFailure(error);
    const { what, target } = this.options;
    if (this.failures === 0) this.downSince = this.now();
    this.failures++;
    if (cause === this.cause) {
      this.log.debug({ target, cause, failures: this.failures, ...fields }, `${what} still failing`);
      return;
    }
    this.cause = cause;
    this.log.warn({ target, cause, failures: this.failures, ...fields }, `${what} failing (${target}): ${cause}`);
  }

  /** A successful attempt: ends an outage, if there was one, with one line. */
  succeeded(): void {
    if (this.failures === 0) return;
    const { what, target } = this.options;
    this.log.info({ target, failures: this.failures, downForMs: this.now() - this.downSince, lastCause: this.cause }, `${what} recovered (${target})`);
    this.failures = 0;
    this.cause = null;
  }
}
