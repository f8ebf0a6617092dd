import { randomBytes } from "node:crypto";
import { Kvm, KvWatchInclude, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { sessionRecordSchema, type SessionRecord } from "@gapfill/contracts";
import { isNatsUnavailable, OutageLog, type Logger } from "@gapfill/kit";

/** 24 random bytes as url-safe base64: 32 characters, 192 bits, so ids cannot be guessed. */
export function newSessionId(): string {
  return randomBytes(24).toString("base64url");
}

function parseRecord(value: Uint8Array): SessionRecord | null {
  try {
    const parsed = sessionRecordSchema.safeParse(JSON.parse(new TextDecoder().decode(value)));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export type SessionState = "active" | "stopped" | "expired";

export function sessionState(record: SessionRecord, nowMs: number): SessionState {
  if (record.stopped_at !== null) return "stopped";
  if (record.expires_at <= nowMs) return "expired";
  return "active";
}

/**
 * Sessions in the `<ns>_sessions` KV bucket, shared by every gateway replica. The bucket's TTL removes old
 * records; `expires_at` in the record is what decides expiry, since NATS 2.9 tells no watcher when a key ages out.
 */
export class SessionRegistry {
  private readonly outage: OutageLog;

  private readonly kv: KV;
  private readonly ttlMs: number;
  private readonly now: () => number;
  private readonly log: Logger;

  private constructor(
    kv: KV,
    bucket: string,
    ttlMs: number,
    now: () => number,
    log: Logger,
  ) {
    this.kv = kv;
    this.ttlMs = ttlMs;
    this.now = now;
    this.log = log;
    this.outage = new OutageLog(log, { what: "the sessions bucket", target: bucket });
  }

  /** One KV call; NATS not serving it (a timeout while the bucket's leader is re-elected) is logged once per outage. */
  private async call<T>(run: () => Promise<T>): Promise<T> {
    try {
      const result = await run();
      this.outage.succeeded();
      return result;
    } catch (error) {
      if (isNatsUnavailable(error)) this.outage.failed(error);
      throw error;
    }
  }

  /** A session lives as long as the bucket keeps its record: the bucket's TTL, set by the provisioning step. */
  static async open(nc: NatsConnection, bucket: string, options: { now: () => number; log: Logger }) {
    const kv = await new Kvm(nc).open(bucket);
    const { ttl } = await kv.status();
    if (!(ttl > 0)) throw new Error(`the sessions bucket ${bucket} has no TTL: provision it with \`npm run provision\``);
    return new SessionRegistry(kv, bucket, ttl, options.now, options.log);
  }

  async start(sub: string, symbol: string, supabaseLastTs: number | null): Promise<SessionRecord> {
    const createdAt = this.now();
    const record: SessionRecord = {
      session_id: newSessionId(),
      sub,
      symbol,
      supabase_last_ts: supabaseLastTs,
      created_at: createdAt,
      expires_at: createdAt + this.ttlMs,
      stopped_at: null,
    };
    // create() refuses an existing key: an id collision can never hand one user's session to another.
    await this.call(() => this.kv.create(record.session_id, JSON.stringify(record)));
    return record;
  }

  async get(sessionId: string): Promise<SessionRecord | null> {
    const entry = await this.call(() => this.kv.get(sessionId));
    if (!entry || entry.operation !== "PUT") return null;
    const record = parseRecord(entry.value);
    if (!record) this.log.warn({ key: sessionId.slice(0, 6) }, "ignoring a malformed session record");
    return record;
  }

  /** Marks the session stopped; every replica's watcher then closes its streams. Idempotent. */
  async stop(record: SessionRecord): Promise<SessionRecord> {
    if (record.stopped_at !== null) return record;
    const stopped = { ...record, stopped_at: this.now() };
    await this.call(() => this.kv.put(record.session_id, JSON.stringify(stopped)));
    return stopped;
  }

  /**
   * Calls `onStopped` for every session stopped or deleted from now on, by any replica. Returns a function that
   * stops watching.
   */
  async watchStops(onStopped: (sessionId: string) => void): Promise<() => void> {
    const watch = await this.kv.watch({ include: KvWatchInclude.UpdatesOnly });
    void (async () => {
      for await (const entry of watch) {
        if (entry.operation !== "PUT") {
          onStopped(entry.key);
          continue;
        }
        if (parseRecord(entry.value)?.stopped_at != null) onStopped(entry.key);
      }
    })().catch((error: unknown) => this.log.error({ err: error }, "session watch ended"));
    return () => watch.stop();
  }
}
