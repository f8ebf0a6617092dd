import type { NatsNames } from "./names.ts";

/**
 * The JetStream topology: every stream and bucket with its settings, stated once. `npm run provision` creates or
 * updates them; services only check that what they need exists. Durations in milliseconds (0 = unlimited).
 */
export interface TopologySettings {
  /** How long closed bars stay in the bars stream (`BARS_MAX_AGE_HOURS`). */
  barsMaxAgeHours: number;
  /** Lifetime of a session record in the sessions bucket (`SESSION_TTL_SECONDS`). */
  sessionTtlSeconds: number;
  /** Replicas of every stream and bucket: 1 on one server, 3 on a 3-node cluster (`JETSTREAM_REPLICAS`). */
  replicas: number;
}

export type StreamRole = "bars" | "mlTicks" | "mlEvents";
export type BucketRole = "sessions";

export interface StreamSpec {
  role: StreamRole;
  name: string;
  subjects: string[];
  retention: "limits" | "workqueue";
  maxAgeMs: number;
  /** Messages kept per subject (0 = unlimited). */
  maxMsgsPerSubject: number;
  /** How long a `Nats-Msg-Id` is remembered; never more than maxAgeMs when that is set. */
  duplicateWindowMs: number;
  /** Lets any replica answer direct gets (the last bar of a subject) without going through the leader. */
  allowDirect: boolean;
  replicas: number;
  /** Whether its messages may be thrown away to change a setting JetStream cannot change in place. */
  disposable: boolean;
  what: string;
}

export interface BucketSpec {
  role: BucketRole;
  name: string;
  ttlMs: number;
  history: number;
  replicas: number;
  what: string;
}

export interface Topology {
  streams: Record<StreamRole, StreamSpec>;
  buckets: Record<BucketRole, BucketSpec>;
}

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

export const DEFAULT_TOPOLOGY_SETTINGS: TopologySettings = { barsMaxAgeHours: 168, sessionTtlSeconds: 1800, replicas: 1 };

export function topology(names: NatsNames, settings: TopologySettings): Topology {
  const { replicas } = settings;
  return {
    streams: {
      bars: {
        role: "bars",
        name: names.streams.bars,
        subjects: [names.subjects.allBars],
        retention: "limits",
        maxAgeMs: settings.barsMaxAgeHours * HOUR_MS,
        maxMsgsPerSubject: 0,
        duplicateWindowMs: 2 * MINUTE_MS,
        allowDirect: true,
        replicas,
        disposable: false,
        what: "closed 15 s bars, one message per symbol and open time",
      },
      mlTicks: {
        role: "mlTicks",
        name: names.streams.mlTicks,
        subjects: [names.subjects.allTicks],
        // Limits, not a work queue: a scheduler reads the subject's last tick to publish each window once, and a
        // work queue would delete that tick as soon as it is acknowledged. Consumers share durable pull consumers.
        retention: "limits",
        maxAgeMs: 0,
        maxMsgsPerSubject: 100,
        duplicateWindowMs: HOUR_MS,
        allowDirect: true,
        replicas,
        disposable: true,
        what: "retrain and infer ticks, one per interval window",
      },
      mlEvents: {
        role: "mlEvents",
        name: names.streams.mlEvents,
        subjects: [names.subjects.modelPublished, names.subjects.allPredictions, names.subjects.allRunEvents],
        retention: "limits",
        maxAgeMs: 30 * DAY_MS,
        maxMsgsPerSubject: 0,
        // A tick redelivered within the hour republishes nothing twice (predictions carry symbol+ts+version ids).
        duplicateWindowMs: HOUR_MS,
        allowDirect: true,
        replicas,
        disposable: false,
        what: "published models, predictions and retrain run events",
      },
    },
    buckets: {
      sessions: {
        role: "sessions",
        name: names.buckets.sessions,
        ttlMs: settings.sessionTtlSeconds * 1000,
        history: 1,
        replicas,
        what: "gateway sessions, shared by every gateway replica",
      },
    },
  };
}

/** The stream behind a KV bucket. */
export function bucketStreamName(bucket: string): string {
  return `KV_${bucket}`;
}
