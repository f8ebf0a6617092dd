import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  ReplayPolicy,
  type ConsumerConfig,
  type ConsumerMessages,
  type JetStreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import type { NatsNames, TickKind } from "@gapfill/contracts";

export interface TickConsumerSettings {
  /** Durable name: every process of a namespace that does this kind of work shares it. */
  durable: string;
  ackWaitMs: number;
  /** JetStream max_deliver of each tick. */
  maxDeliver: number;
}

/**
 * A durable pull consumer of one kind of scheduler tick (ml-runner's retrain, ml-infer's infer ticks): explicit acks,
 * one tick in flight across every process sharing it, starting at the newest tick the stream keeps.
 */
export function tickConsumerConfig(names: NatsNames, kind: TickKind, settings: TickConsumerSettings): Partial<ConsumerConfig> {
  return {
    durable_name: settings.durable,
    filter_subject: names.subjects.tick(kind),
    ack_policy: AckPolicy.Explicit,
    // The stream keeps the last 100 ticks: a new deployment works once, on the newest, not on every old window.
    deliver_policy: DeliverPolicy.LastPerSubject,
    replay_policy: ReplayPolicy.Instant,
    ack_wait: nanos(settings.ackWaitMs),
    // One tick at a time across the namespace: two processes never do the same window's work side by side.
    max_ack_pending: 1,
    max_deliver: settings.maxDeliver,
  };
}

/** Creates the durable tick consumer, or updates the settings we own; returns what it did. */
export async function ensureTickConsumer(
  jsm: JetStreamManager,
  names: NatsNames,
  kind: TickKind,
  settings: TickConsumerSettings,
): Promise<"created" | "updated" | "unchanged"> {
  const desired = tickConsumerConfig(names, kind, settings);
  let current: ConsumerConfig;
  try {
    current = (await jsm.consumers.info(names.streams.mlTicks, settings.durable)).config;
  } catch (error) {
    if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound)) throw error;
    await jsm.consumers.add(names.streams.mlTicks, desired);
    return "created";
  }
  if (current.ack_wait === desired.ack_wait && current.max_deliver === desired.max_deliver) return "unchanged";
  await jsm.consumers.update(names.streams.mlTicks, settings.durable, { ack_wait: desired.ack_wait, max_deliver: desired.max_deliver });
  return "updated";
}

/** What `handle` gets besides the message: the stop signal, and a way to hand the message back once stopped. */
export interface TickHandling {
  /** Aborted by stop(): work in hand should give up. */
  signal: AbortSignal;
  /** A message whose work stop() interrupted: nak'd only after the subscription is closed. */
  handBack(msg: JsMsg): void;
}

/**
 * Feeds a tick consumer's messages to `handle` one at a time until stop(). A message taken or interrupted while
 * stopping is handed back (nak) only after the subscription is closed, so the server gives it to another process
 * sharing the durable rather than back to this one's pull request. `done` rejects if the subscription ends on its own.
 */
export function takeTicksInTurn(
  messages: ConsumerMessages,
  handle: (msg: JsMsg, handling: TickHandling) => Promise<void>,
  what: string,
): { done: Promise<void>; stop(): Promise<void> } {
  const stopping = new AbortController();
  const handedBack: JsMsg[] = [];
  const handling: TickHandling = { signal: stopping.signal, handBack: (msg) => void handedBack.push(msg) };
  const loop = (async () => {
    for await (const msg of messages) {
      if (stopping.signal.aborted) handedBack.push(msg);
      else await handle(msg, handling);
    }
  })();
  const done = loop.then(() => {
    if (!stopping.signal.aborted) throw new Error(`the ${what} subscription ended on its own`);
  });
  done.catch(() => {});
  return {
    done,
    stop: async () => {
      stopping.abort(new Error(`${what} stopping`));
      await messages.close();
      await loop.catch(() => {});
      for (const msg of handedBack.splice(0)) msg.nak();
    },
  };
}
