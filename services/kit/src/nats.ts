import { JetStreamApiError } from "@nats-io/jetstream";
import {
  ClosedConnectionError,
  connect,
  ConnectionError,
  DrainingConnectionError,
  NoRespondersError,
  RequestError,
  TimeoutError,
  type NatsConnection,
} from "@nats-io/transport-node";
import { describeFailure } from "./failure.ts";
import type { Logger } from "./log.ts";
import { redactUrlCredentials } from "./redact.ts";

export type { NatsConnection } from "@nats-io/transport-node";

export class NatsUnreachableError extends Error {
  override name = "NatsUnreachableError";
}

export interface ConnectNatsOptions {
  url: string;
  /** Client name shown by the server (`nats server report connections`). */
  name: string;
  log: Logger;
  /** How long the first connection may take before we give up. */
  timeoutMs?: number;
}

/**
 * Connects once (failing fast with a message that says what to do), then reconnects forever: a NATS restart is an
 * outage to ride out, not a reason to exit.
 */
export async function connectNats({ url, name, log, timeoutMs = 5000 }: ConnectNatsOptions): Promise<NatsConnection> {
  const servers = url.split(",").map((server) => server.trim());
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers,
      name,
      timeout: timeoutMs,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      reconnectJitter: 250,
      pingInterval: 10_000,
      // nats.js would capture a stack trace for every request (KV get, direct get, JetStream publish) in case it
      // fails: a measurable share of a gateway's CPU and garbage per client, for a stack that names nats.js anyway.
      noAsyncTraces: true,
    });
  } catch (error) {
    throw new NatsUnreachableError(
      `NATS is not reachable at ${redactUrlCredentials(url)} (${describeFailure(error)}). Start a server with JetStream ` +
        "(`nats-server -js`) or set NATS_URL.",
      { cause: error },
    );
  }
  log.info({ server: nc.getServer() }, "connected to NATS");
  void logNatsStatus(nc, log);
  return nc;
}

async function logNatsStatus(nc: NatsConnection, log: Logger): Promise<void> {
  for await (const status of nc.status()) {
    switch (status.type) {
      case "disconnect":
        log.warn({ server: status.server }, "NATS disconnected");
        break;
      case "reconnect":
        log.info({ server: status.server }, "NATS reconnected");
        break;
      case "error":
        log.error({ err: status.error }, "NATS error");
        break;
      default:
        log.debug({ status: status.type }, "NATS status");
    }
  }
}

/**
 * Whether a NATS call failed because NATS did not serve it, now: no answer in time (a JetStream stream whose leader
 * is being re-elected, a server restarting), no responders, or a closed or draining connection. Retrying later may
 * help; a gateway answers such a failure with 503 and a Retry-After, never 500.
 */
export function isNatsUnavailable(error: unknown): boolean {
  if (error instanceof JetStreamApiError) return error.status === 503;
  return (
    error instanceof TimeoutError ||
    error instanceof NoRespondersError ||
    error instanceof RequestError ||
    error instanceof ConnectionError ||
    error instanceof ClosedConnectionError ||
    error instanceof DrainingConnectionError ||
    // What a JetStream request meeting no responders becomes; its class is not exported.
    (error instanceof Error && error.name === "JetStreamNotEnabled")
  );
}
