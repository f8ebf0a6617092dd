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
import {
  bucketStreamName,
  natsNames,
  topology,
  type BucketRole,
  type BucketSpec,
  type NatsNames,
  type StreamRole,
  type StreamSpec,
  type TopologySettings,
} from "@gapfill/contracts";
import type { Logger } from "./log.ts";
import { waitFor } from "./wait.ts";

export type ProvisionAction = "created" | "updated" | "recreated" | "unchanged";

type DesiredStream = Pick<StreamConfig, "name" | "subjects" | "retention" | "storage"> & Partial<StreamConfig>;

/** A stream spec of the topology as the JetStream stream configuration we own; the rest keeps server defaults. */
export function streamConfigOf(spec: StreamSpec): DesiredStream {
  return {
    name: spec.name,
    subjects: spec.subjects,
    retention: spec.retention === "workqueue" ? RetentionPolicy.Workqueue : RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanos(spec.maxAgeMs),
    max_msgs_per_subject: spec.maxMsgsPerSubject === 0 ? -1 : spec.maxMsgsPerSubject,
    duplicate_window: nanos(spec.duplicateWindowMs),
    allow_direct: spec.allowDirect,
    num_replicas: spec.replicas,
  };
}

/** Settings that the server refuses to change on an existing stream. */
const IMMUTABLE: readonly (keyof StreamConfig)[] = ["retention", "storage"];

/**
 * Creates or updates, idempotently, every stream and bucket of the topology (contracts/src/topology.ts): the
 * provisioning step (`npm run provision`). A second run changes nothing; a changed setting updates the stream in
 * place; a disposable stream whose retention changed is recreated.
 */
export async function provisionTopology(
  nc: NatsConnection,
  settings: TopologySettings & { namespace: string },
  log?: Logger,
): Promise<{ names: NatsNames; actions: Record<string, ProvisionAction> }> {
  const names = natsNames(settings.namespace);
  const wanted = topology(names, settings);
  const jsm = await jetstreamManager(nc);
  const actions: Record<string, ProvisionAction> = {};
  for (const spec of Object.values(wanted.streams)) actions[spec.name] = await ensureStream(jsm, spec, log);
  for (const spec of Object.values(wanted.buckets)) actions[spec.name] = await ensureKvBucket(nc, jsm, spec);
  log?.info({ namespace: settings.namespace, actions }, "JetStream streams and buckets provisioned");
  return { names, actions };
}

/**
 * The inverse of provisionTopology: deletes a namespace's streams and buckets (with their consumers and messages),
 * for data that is disposable by design, like a demo's simulated bars. Returns what existed and is gone.
 */
export async function deleteTopology(nc: NatsConnection, namespace: string): Promise<string[]> {
  const names = natsNames(namespace);
  const jsm = await jetstreamManager(nc);
  const deleted: string[] = [];
  const streams = [...Object.values(names.streams), ...Object.values(names.buckets).map(bucketStreamName)];
  for (const name of streams) {
    if ((await streamConfigOrNull(jsm, name)) === null) continue;
    await jsm.streams.delete(name);
    deleted.push(name);
  }
  return deleted;
}

export type TopologyNeed = StreamRole | BucketRole;

function jetStreamNameOf(names: NatsNames, need: TopologyNeed): string {
  return need === "sessions" ? bucketStreamName(names.buckets.sessions) : names.streams[need];
}

/** The streams and buckets of `needs` that do not exist (JetStream names). */
export async function missingTopology(nc: NatsConnection, names: NatsNames, needs: readonly TopologyNeed[]): Promise<string[]> {
  const jsm = await jetstreamManager(nc);
  const missing: string[] = [];
  for (const need of needs) {
    const name = jetStreamNameOf(names, need);
    if ((await streamConfigOrNull(jsm, name)) === null) missing.push(name);
  }
  return missing;
}

/**
 * Waits until every stream and bucket a service needs exists, saying what is missing (and how to create it) at once
 * and then every `warnEveryMs`. Services never create or change them: the provisioning step owns them all.
 */
export async function awaitTopology(
  nc: NatsConnection,
  names: NatsNames,
  needs: readonly TopologyNeed[],
  { log, signal, warnEveryMs = 10_000 }: { log: Logger; signal?: AbortSignal; warnEveryMs?: number },
): Promise<void> {
  let warnedAt = -Infinity;
  await waitFor(
    async () => {
      const missing = await missingTopology(nc, names, needs);
      if (missing.length === 0) return true;
      if (Date.now() - warnedAt >= warnEveryMs) {
        warnedAt = Date.now();
        log.warn(
          { missing, namespace: names.namespace },
          "waiting for JetStream streams/buckets this service needs; create them with `npm run provision` (same NATS_URL and NATS_NAMESPACE)",
        );
      }
      return false;
    },
    { timeoutMs: Number.MAX_SAFE_INTEGER, intervalMs: 500, what: "the JetStream topology", ...(signal ? { signal } : {}) },
  );
}

/** How long the bars stream keeps bars (ms; 0 = for ever), as provisioned. */
export async function barsRetentionMs(nc: NatsConnection, names: NatsNames): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const config = await jsm.streams.info(names.streams.bars).then((info) => info.config);
  return Math.round((config.max_age ?? 0) / 1e6);
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

async function ensureStream(jsm: JetStreamManager, spec: StreamSpec, log?: Logger): Promise<ProvisionAction> {
  const desired = streamConfigOf(spec);
  const current = await streamConfigOrNull(jsm, spec.name);
  if (!current) {
    await jsm.streams.add(desired);
    return "created";
  }
  const changed = differingKeys(current, desired);
  if (changed.length === 0) return "unchanged";
  const immutable = changed.filter((key) => IMMUTABLE.includes(key));
  if (immutable.length > 0) {
    if (!spec.disposable) {
      throw new Error(
        `stream ${spec.name} exists with a different ${immutable.join(", ")}; ` +
          "JetStream cannot change that in place: delete the stream or use another NATS_NAMESPACE",
      );
    }
    log?.warn({ stream: spec.name, changed: immutable }, "recreating a stream of transient messages to change what JetStream cannot change in place");
    await jsm.streams.delete(spec.name);
    await jsm.streams.add(desired);
    return "recreated";
  }
  await jsm.streams.update(spec.name, { ...current, ...desired });
  return "updated";
}

async function ensureKvBucket(nc: NatsConnection, jsm: JetStreamManager, spec: BucketSpec): Promise<ProvisionAction> {
  const current = await streamConfigOrNull(jsm, bucketStreamName(spec.name));
  if (!current) {
    await new Kvm(nc).create(spec.name, { ttl: spec.ttlMs, history: spec.history, storage: StorageType.File, replicas: spec.replicas });
    return "created";
  }
  const desired: Partial<StreamConfig> = { max_age: nanos(spec.ttlMs), num_replicas: spec.replicas };
  if (differingKeys(current, desired).length === 0) return "unchanged";
  await jsm.streams.update(bucketStreamName(spec.name), { ...current, ...desired });
  return "updated";
}

/** The topology settings from a validated provisioning config. */
export function topologySettingsFrom(config: {
  NATS_NAMESPACE: string;
  BARS_MAX_AGE_HOURS: number;
  SESSION_TTL_SECONDS: number;
  JETSTREAM_REPLICAS: number;
}): TopologySettings & { namespace: string } {
  return {
    namespace: config.NATS_NAMESPACE,
    barsMaxAgeHours: config.BARS_MAX_AGE_HOURS,
    sessionTtlSeconds: config.SESSION_TTL_SECONDS,
    replicas: config.JETSTREAM_REPLICAS,
  };
}
