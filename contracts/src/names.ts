import type { TickKind } from "./ticks.ts";

export const RUN_EVENT_KINDS = ["started", "finished", "failed"] as const;
export type RunEventKind = (typeof RUN_EVENT_KINDS)[number];

/**
 * Every stream, subject and bucket name, prefixed by one namespace so tests and several deployments can share a
 * server. With namespace "t1": stream `t1_BARS`, subject `t1.bars.15s.BTCUSDT`, bucket `t1_sessions`.
 */
export const NAMESPACE_PATTERN = /^[A-Za-z0-9_-]{0,32}$/;

export interface NatsNames {
  namespace: string;
  streams: { bars: string; mlTicks: string; mlEvents: string };
  buckets: { sessions: string };
  subjects: {
    bars(symbol: string): string;
    /** Wildcard over every symbol's closed bars. */
    allBars: string;
    live(symbol: string): string;
    /** Core NATS, no payload: a recorder committed bars of the symbol to price_15s (a hint; nothing relies on it). */
    recorded(symbol: string): string;
    tick(kind: TickKind): string;
    allTicks: string;
    modelPublished: string;
    predictions(symbol: string): string;
    allPredictions: string;
    /** One retrain run's progress and outcome: `ml.run.started|finished|failed`. */
    runEvent(kind: RunEventKind): string;
    allRunEvents: string;
  };
}

export function natsNames(namespace = ""): NatsNames {
  if (!NAMESPACE_PATTERN.test(namespace)) {
    throw new Error(`NATS namespace must match ${NAMESPACE_PATTERN}, got ${JSON.stringify(namespace)}`);
  }
  const stream = (name: string) => (namespace ? `${namespace}_${name}` : name);
  const subject = (name: string) => (namespace ? `${namespace}.${name}` : name);
  return {
    namespace,
    streams: { bars: stream("BARS"), mlTicks: stream("ML_TICKS"), mlEvents: stream("ML_EVENTS") },
    buckets: { sessions: stream("sessions") },
    subjects: {
      bars: (symbol) => subject(`bars.15s.${symbol}`),
      allBars: subject("bars.15s.*"),
      live: (symbol) => subject(`live.15s.${symbol}`),
      recorded: (symbol) => subject(`recorded.15s.${symbol}`),
      tick: (kind) => subject(`ml.tick.${kind}`),
      allTicks: subject("ml.tick.*"),
      modelPublished: subject("ml.model.published"),
      predictions: (symbol) => subject(`ml.predictions.${symbol}`),
      allPredictions: subject("ml.predictions.*"),
      runEvent: (kind) => subject(`ml.run.${kind}`),
      allRunEvents: subject("ml.run.*"),
    },
  };
}

/** The symbol a `bars.15s.<SYMBOL>` (or `live.15s.<SYMBOL>`) subject is about: its last token. */
export function symbolOfSubject(subject: string): string {
  return subject.slice(subject.lastIndexOf(".") + 1);
}
