import {
  DiscardPolicy,
  jetstreamManager,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type StreamConfig,
} from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { nanos, type NatsConnection } from "@nats-io/transport-node";
import { natsNames, type NatsNames } from "@gapfill/contracts";
import type { Logger } from "./log.ts";

export interface JetStreamSettings {
  namespace: string;
  barsMaxAgeHours: number;
  sessionTtlSeconds: number;
  /** Replicas of every stream: 1 on one server, 3 on a 3-node cluster. */
  replicas?: number;
}

export type ProvisionAction = "created" | "updated" | "unchanged";

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

type DesiredStream = Pick<StreamConfig, "name" | "subjects" | "retention" | "storage"> & Partial<StreamConfig>;

/** The streams of SPEC §5 with the settings we own; anything not listed keeps the server's default. */
export function desiredStreams(names: NatsNames, settings: JetStreamSettings): DesiredStream[] {
  const replicas = settings.replicas ?? 1;
  return [
    {
      name: names.streams.bars,
      subjects: [names.subjects.allBars],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: nanos(settings.barsMaxAgeHours * HOUR_MS),
      duplicate_window: nanos(2 * MINUTE_MS),
      allow_direct: true,
      num_replicas: replicas,
    },
    {
      name: names.streams.mlTicks,
      subjects: [names.subjects.allTicks],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: nanos(DAY_MS),
      // A retrain window is an hour: schedulers that start late in it must still be de-duplicated.
      duplicate_window: nanos(HOUR_MS),
      num_replicas: replicas,
    },
    {
      name: names.streams.mlEvents,
      subjects: [names.subjects.modelPublished, names.subjects.allPredictions],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: nanos(30 * DAY_MS),
      duplicate_window: nanos(2 * MINUTE_MS),
      allow_direct: true,
      num_replicas: replicas,
    },
  ];
}

/** Settings that the server refuses to change on an existing stream. */
const IMMUTABLE: readonly (keyof StreamConfig)[] = ["retention", "storage"];

/**
 * Creates or updates, idempotently, the streams and the sessions KV bucket of SPEC §5. A second run changes
 * nothing; a changed setting (say a new `BARS_MAX_AGE_HOURS`) updates the existing stream in place.
 */
export async function ensureJetStream(
  nc: NatsConnection,
  settings: JetStreamSettings,
  log?: Logger,
): Promise<{ names: NatsNames; actions: Record<string, ProvisionAction> }> {
  const names = natsNames(settings.namespace);
  const jsm = await jetstreamManager(nc);
  const actions: Record<string, ProvisionAction> = {};
  for (const desired of desiredStreams(names, settings)) {
    actions[desired.name] = await ensureStream(jsm, desired);
  }
  actions[names.buckets.sessions] = await ensureKvBucket(nc, jsm, names.buckets.sessions, {
    ttlMs: settings.sessionTtlSeconds * 1000,
    replicas: settings.replicas ?? 1,
  });
  log?.info({ actions }, "JetStream streams and buckets ready");
  return { names, actions };
}

/**
 * The inverse of ensureJetStream: deletes a namespace's streams and sessions bucket (with their consumers and
 * messages), for data that is disposable by design, like a demo's simulated bars. Returns what existed and is gone.
 */
export async function deleteJetStream(nc: NatsConnection, namespace: string): Promise<string[]> {
  const names = natsNames(namespace);
  const jsm = await jetstreamManager(nc);
  const deleted: string[] = [];
  // Every stream the namespace's names define, and the one behind each KV bucket.
  const streams = [...Object.values(names.streams), ...Object.values(names.buckets).map((bucket) => `KV_${bucket}`)];
  for (const name of streams) {
    if ((await streamConfigOrNull(jsm, name)) === null) continue;
    await jsm.streams.delete(name);
    deleted.push(name);
  }
  return deleted;
}

async function streamConfigOrNull(jsm: JetStreamManager, name: string): Promise<StreamConfig | null> {
  try {
    return (await jsm.streams.info(name)).config;
  } catch (error) {
    if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) return null;
    throw error;
  }
}

function differingKeys(current: StreamConfig, desired: Partial<StreamConfig>): (keyof StreamConfig)[] {
  return (Object.keys(desired) as (keyof StreamConfig)[]).filter(
    (key) => JSON.stringify(current[key] ?? null) !== JSON.stringify(desired[key] ?? null),
  );
}

async function ensureStream(jsm: JetStreamManager, desired: DesiredStream): Promise<ProvisionAction> {
  const current = await streamConfigOrNull(jsm, desired.name);
  if (!current) {
    await jsm.streams.add(desired);
    return "created";
  }
  const changed = differingKeys(current, desired);
  if (changed.length === 0) return "unchanged";
  const immutable = changed.filter((key) => IMMUTABLE.includes(key));
  if (immutable.length > 0) {
    throw new Error(
      `stream ${desired.name} exists with a different ${immutable.join(", ")}; ` +
        "JetStream cannot change that in place: delete the stream or use another NATS_NAMESPACE",
    );
  }
  await jsm.streams.update(desired.name, { ...current, ...desired });
  return "updated";
}

async function ensureKvBucket(
  nc: NatsConnection,
  jsm: JetStreamManager,
  bucket: string,
  { ttlMs, replicas }: { ttlMs: number; replicas: number },
): Promise<ProvisionAction> {
  const streamName = `KV_${bucket}`;
  const current = await streamConfigOrNull(jsm, streamName);
  if (!current) {
    await new Kvm(nc).create(bucket, { ttl: ttlMs, history: 1, storage: StorageType.File, replicas });
    return "created";
  }
  const desired: Partial<StreamConfig> = { max_age: nanos(ttlMs), num_replicas: replicas };
  if (differingKeys(current, desired).length === 0) return "unchanged";
  await jsm.streams.update(streamName, { ...current, ...desired });
  return "updated";
}

/** The JetStream settings every service derives from its validated config. */
export function jetStreamSettingsFrom(config: {
  NATS_NAMESPACE: string;
  BARS_MAX_AGE_HOURS: number;
  SESSION_TTL_SECONDS: number;
  JETSTREAM_REPLICAS: number;
}): JetStreamSettings {
  return {
    namespace: config.NATS_NAMESPACE,
    barsMaxAgeHours: config.BARS_MAX_AGE_HOURS,
    sessionTtlSeconds: config.SESSION_TTL_SECONDS,
    replicas: config.JETSTREAM_REPLICAS,
  };
}
