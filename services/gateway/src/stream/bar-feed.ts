import type { Consumer, ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { BAR_MS, formingBarSchema } from "@gapfill/contracts";
import type { Logger } from "@gapfill/kit";
import { barEvent, partialEvent } from "./sse-format.ts";
import { orderedConsumerFrom, PULL_EXPIRES_MS } from "./ordered-consumer.ts";
import { parseStoredBar } from "./stored-bar.ts";

/** A closed bar with its `event: bar` text, serialized once and written as-is to every stream. */
export interface BarEntry {
  ts: number;
  event: string;
}

/** A new bar for the live fan-out: its event also encoded once, so thousands of writes copy bytes, not encode text. */
export interface LiveBar extends BarEntry {
  bytes: Buffer;
}

/** A stream that follows the live edge. */
export interface LiveListener {
  readonly wantsPartial: boolean;
  /** Returns whether the bar was written to this listener. */
  onBar(bar: LiveBar): boolean;
  onForming(event: string, ts: number): void;
}

export interface BarFeedDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: string;
  barsSubject: string;
  liveSubject: string;
  windowBars: number;
  now: () => number;
  log: Logger;
  /** Called once per fan-out with how many streams the bar was written to. */
  onFanOut?: (written: number) => void;
  /** Called with the open time of every bar read from the stream, before any stream is written to. */
  onStoredBar?: (ts: number) => void;
}

/** Bars published late (a backfill) are stored well after their open time: hydrate from this much earlier. */
const HYDRATE_SLACK_MS = 60 * 60_000;

/**
 * One symbol's recent closed bars in memory, hydrated from JetStream and kept live by one ordered consumer, plus
 * the forming bar from one core-NATS subscription. Every gap stream of this process replays from the window and
 * then joins the fan-out, so a thousand streams cost one consumer.
 */
export class BarFeed {
  /** Oldest first; every stored bar with ts > floor is here. */
  private entries: BarEntry[] = [];
  /** Every bar of the stream with ts > floor is in the window; -Infinity when it holds the whole history. */
  private windowFloor = -Infinity;
  private floorKnown = false;
  private readonly listeners = new Set<LiveListener>();
  private consumer: Consumer | null = null;
  private messages: ConsumerMessages | null = null;
  private formingSub: Subscription | null = null;
  private closed = false;
  /** Stream sequence of the newest message read, and who waits for a sequence to be read. */
  private readSeq = 0;
  private readonly seqWaiters: { seq: number; resolve: () => void }[] = [];
  readonly ready: Promise<void>;
  private markReady!: () => void;

  private readonly deps: BarFeedDeps;

  constructor(deps: BarFeedDeps) {
    this.deps = deps;
    this.ready = new Promise((resolve) => (this.markReady = resolve));
  }

  get floor(): number {
    return this.windowFloor;
  }

  /** Whether the window holds every bar the feed has read with ts >= lo: lo lies above a known floor. */
  covers(lo: number): boolean {
    return this.floorKnown && lo > this.windowFloor;
  }

  get lastTs(): number | null {
    return this.entries.at(-1)?.ts ?? null;
  }

  async start(): Promise<void> {
    const { js, jsm, stream, barsSubject, windowBars, now } = this.deps;
    const startMs = Math.max(0, now() - windowBars * BAR_MS - HYDRATE_SLACK_MS);
    const consumer = await orderedConsumerFrom(js, jsm, stream, barsSubject, new Date(startMs));
    this.consumer = consumer;
    const info = await consumer.info(true);
    // Messages before the consumer's start are below the window: count them as read (a new consumer reports its
    // start − 1 as delivered), or a stream with nothing newer would never look caught up.
    this.readSeq = info.delivered.stream_seq;
    if (info.num_pending === 0) {
      // Nothing stored since startMs: the newest bar, if any, is older, and nothing after it is missing.
      const last = await jsm.direct.getMessage(stream, { last_by_subj: barsSubject });
      const bar = last ? parseStoredBar(last.data, barsSubject, this.deps.log) : null;
      this.readSeq = Math.max(this.readSeq, last?.seq ?? 0);
      this.windowFloor = bar ? bar.ts : -Infinity;
      this.floorKnown = true;
      this.markReady();
    }
    this.messages = await consumer.consume({ callback: (msg) => this.onStored(msg), expires: PULL_EXPIRES_MS });
  }

  private onStored(msg: JsMsg): void {
    const bar = parseStoredBar(msg.data, msg.subject, this.deps.log);
    if (bar) {
      this.deps.onStoredBar?.(bar.ts);
      this.append(bar.ts, barEvent(bar));
    }
    this.readSeq = msg.seq;
    if (this.seqWaiters.length > 0) this.releaseSeqWaiters();
    if (msg.info.pending === 0) this.markReady();
  }

  private releaseSeqWaiters(): void {
    for (let i = this.seqWaiters.length - 1; i >= 0; i--) {
      const waiter = this.seqWaiters[i]!;
      if (waiter.seq > this.readSeq) continue;
      this.seqWaiters.splice(i, 1);
      waiter.resolve();
    }
  }

  /**
   * Resolves true once every message of the subject up to stream sequence `seq` has been read (and its bar handed
   * to onStoredBar and the fan-out), false if that takes longer than `timeoutMs`.
   */
  readUpTo(seq: number, timeoutMs: number): Promise<boolean> {
    if (seq <= this.readSeq) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter = {
        seq,
        resolve: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
      const timer = setTimeout(() => {
        this.seqWaiters.splice(this.seqWaiters.indexOf(waiter), 1);
        resolve(false);
      }, timeoutMs);
      this.seqWaiters.push(waiter);
    });
  }

  /** Open times of the window's bars with lo <= ts <= hi, oldest first. Valid only for lo > floor. */
  barTsBetween(lo: number, hi: number): number[] {
    const out: number[] = [];
    for (let i = this.indexAfter(lo - 1); i < this.entries.length && this.entries[i]!.ts <= hi; i++) out.push(this.entries[i]!.ts);
    return out;
  }

  private append(ts: number, event: string): void {
    if (!this.floorKnown) {
      this.windowFloor = ts - BAR_MS;
      this.floorKnown = true;
    }
    const newest = this.lastTs ?? this.windowFloor;
    if (ts <= newest) return;
    this.entries.push({ ts, event });
    this.trim();
    if (this.listeners.size === 0) {
      this.deps.onFanOut?.(0);
      return;
    }
    const live: LiveBar = { ts, event, bytes: Buffer.from(event) };
    let written = 0;
    for (const listener of this.listeners) if (listener.onBar(live)) written++;
    this.deps.onFanOut?.(written);
  }

  /** Drops the oldest bars in batches (an eighth of the window) so trimming is not a splice per bar. */
  private trim(): void {
    const limit = this.deps.windowBars;
    if (this.entries.length <= limit + Math.max(1, Math.floor(limit / 8))) return;
    const drop = this.entries.length - limit;
    this.windowFloor = this.entries[drop - 1]!.ts;
    this.entries.splice(0, drop);
  }

  /** Index of the first entry with ts > afterTs. */
  private indexAfter(afterTs: number): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.entries[mid]!.ts <= afterTs) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Up to `maxBars` consecutive window bars with afterTs < ts <= upToTs, as one string ready to write.
   * Valid only for afterTs >= floor.
   */
  eventsAfter(afterTs: number, upToTs: number | null, maxBars: number): { text: string; count: number; lastTs: number | null } {
    const start = this.indexAfter(afterTs);
    let end = Math.min(this.entries.length, start + maxBars);
    if (upToTs !== null) end = Math.min(end, this.indexAfter(upToTs));
    if (end <= start) return { text: "", count: 0, lastTs: null };
    let text = "";
    for (let i = start; i < end; i++) text += this.entries[i]!.event;
    return { text, count: end - start, lastTs: this.entries[end - 1]!.ts };
  }

  join(listener: LiveListener): void {
    this.listeners.add(listener);
    if (listener.wantsPartial) this.subscribeForming();
  }

  leave(listener: LiveListener): void {
    this.listeners.delete(listener);
  }

  /** The forming bar is read only once some stream asked for it. */
  private subscribeForming(): void {
    if (this.formingSub || this.closed) return;
    const { nc, liveSubject, log } = this.deps;
    this.formingSub = nc.subscribe(liveSubject, {
      callback: (error, msg) => {
        if (error) return;
        let bar;
        try {
          bar = formingBarSchema.safeParse(JSON.parse(new TextDecoder().decode(msg.data)));
        } catch {
          return;
        }
        if (!bar.success) {
          log.debug({ subject: msg.subject }, "skipping an invalid forming bar");
          return;
        }
        const event = partialEvent(bar.data);
        for (const listener of this.listeners) if (listener.wantsPartial) listener.onForming(event, bar.data.ts);
      },
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.formingSub?.unsubscribe();
    await this.messages?.close();
    await this.consumer?.delete().catch(() => false);
  }
}
