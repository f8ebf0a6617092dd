import type { ServerResponse } from "node:http";
import type { EndReason } from "@gapfill/contracts";
import type { Logger } from "@gapfill/kit";
import type { BarEntry, BarFeed, LiveBar, LiveListener } from "./bar-feed.ts";
import type { PredictionFeed, PredictionListener } from "./prediction-feed.ts";
import { endEvent, HEARTBEAT, liveEvent, retryField } from "./sse-format.ts";

export interface GapStreamLimits {
  /** EventSource reconnect delay sent as `retry:`. */
  retryMs: number;
  /** Live following ends with `max_duration` after this long. */
  maxLiveMs: number;
  /** Output queued in the process for this client beyond this ends the stream with `slow_consumer`. */
  maxBufferedBytes: number;
  /** A replay write that has not drained after this long ends the stream with `slow_consumer`. */
  stallMs: number;
  /** Bars per replay write. */
  replayChunkBars: number;
}

/**
 * What every gap stream of one symbol shares, made once: a stream holds only its own state, since a process may
 * hold tens of thousands of them.
 */
export interface GapStreamShared {
  feed: BarFeed;
  predictions: PredictionFeed;
  now: () => number;
  log: Logger;
  limits: GapStreamLimits;
  /** Bars older than the feed's window, from JetStream. */
  replayOlder: (afterTs: number) => AsyncGenerator<BarEntry>;
  onBarsSent: (count: number) => void;
  onEnd: (stream: GapStream, reason: EndReason | "client_closed") => void;
}

export interface GapStreamOptions {
  sessionId: string;
  res: ServerResponse;
  /** Bars with ts > afterTs are sent. */
  afterTs: number;
  /** Inclusive; the stream ends with `to_ts` once it is reached. */
  toTs: number | null;
  partial: boolean;
  /** Also `event: prediction`: the newest at the start, then each new one. */
  predictions: boolean;
  expiresAt: number;
}

/** After `end`, a client that does not read the last bytes is cut off after this long. */
const CLOSE_GRACE_MS = 2_000;

const ignoreError = () => {};

/**
 * Node keeps a response's header block (about a kilobyte here, as a rope of a hundred small strings) for the
 * response's life, though once it is sent it only tells that headers were sent. A stream holds its response for
 * minutes: after the first write it holds a shared stand-in instead.
 */
const SENT_HEADER = "sent";
function releaseSentHeader(res: ServerResponse): void {
  const response = res as ServerResponse & { _header?: unknown; _headerSent?: unknown };
  if (response._headerSent === true && typeof response._header === "string") response._header = SENT_HEADER;
}

/**
 * One SSE gap stream: replays every closed bar after `afterTs` (from JetStream when older than the feed's
 * window, then from the window), then follows the live fan-out. `lastTs` only moves forward and every write is
 * guarded by it, so the hand-over between the three sources can neither skip nor repeat a bar.
 */
export class GapStream implements LiveListener, PredictionListener {
  readonly sessionId: string;
  readonly wantsPartial: boolean;
  private readonly wantsPredictions: boolean;
  private readonly res: ServerResponse;
  private readonly toTs: number | null;
  private readonly expiresAt: number;
  /** Open time of the newest bar this stream has sent (or afterTs): the resume point. */
  private lastTs: number;
  private sentAny = false;
  private ended = false;
  /** The one timer of the stream: the session's expiry, or the end of live following if that comes first. */
  private deadline: NodeJS.Timeout | null = null;
  private drainWaiter: (() => void) | null = null;

  private readonly shared: GapStreamShared;

  constructor(shared: GapStreamShared, options: GapStreamOptions) {
    this.shared = shared;
    this.sessionId = options.sessionId;
    this.wantsPartial = options.partial;
    this.wantsPredictions = options.predictions;
    this.res = options.res;
    this.toTs = options.toTs;
    this.expiresAt = options.expiresAt;
    this.lastTs = options.afterTs;
    // Writes are guarded by `ended`; a late socket error must not become an unhandled 'error' event.
    this.res.on("error", ignoreError);
    this.res.on("close", () => {
      if (this.ended) return;
      this.finish("client_closed");
    });
  }

  /** Writes `retry:`, arms the expiry timer and runs the replay; resolves once live (or ended). */
  async start(): Promise<void> {
    const { res } = this;
    const { limits, now } = this.shared;
    if (this.ended) return;
    // The client may have left while the request was still being looked up: its 'close' came before our listener.
    if (res.destroyed) return this.finish("client_closed");
    res.write(retryField(limits.retryMs));
    releaseSentHeader(res);
    this.deadline = setTimeout(() => this.end("expired"), Math.max(0, this.expiresAt - now()));
    // Before the replay: a prediction is about the newest bars, so a client catching up sees it first.
    if (this.wantsPredictions) this.shared.predictions.join(this);
    try {
      await this.replay();
    } catch (error) {
      // The source failed (NATS gone mid-replay): drop the connection so the client resumes with Last-Event-ID.
      this.shared.log.warn({ err: error }, "gap stream replay failed; closing the connection");
      if (!this.ended) this.finish("client_closed");
      res.destroy();
    }
  }

  private reachedEnd(): boolean {
    return this.toTs !== null && this.lastTs >= this.toTs;
  }

  private async replay(): Promise<void> {
    const { toTs } = this;
    const { feed, limits } = this.shared;
    while (!this.ended) {
      if (this.reachedEnd()) return this.end("to_ts");
      if (this.lastTs < feed.floor) {
        const sent = await this.replayFromJetStream();
        // The stream holds nothing newer than lastTs below the window (retention took it): go on from the window.
        if (sent === 0 && this.lastTs < feed.floor) this.lastTs = feed.floor;
        continue;
      }
      const chunk = feed.eventsAfter(this.lastTs, toTs, limits.replayChunkBars);
      if (chunk.count === 0) {
        // Same tick as the empty read: no bar can arrive between it and joining the fan-out.
        if (toTs !== null && (feed.lastTs ?? -Infinity) > toTs) return this.end("to_ts");
        return this.goLive();
      }
      if (!this.send(chunk.text, chunk.count, chunk.lastTs!)) await this.drained();
    }
  }

  /** Sends bars from JetStream until the window covers the rest or the stream has no more; returns how many. */
  private async replayFromJetStream(): Promise<number> {
    const { toTs } = this;
    const { feed } = this.shared;
    let sent = 0;
    for await (const entry of this.shared.replayOlder(this.lastTs)) {
      if (this.ended) break;
      if (toTs !== null && entry.ts > toTs) {
        this.end("to_ts");
        break;
      }
      const flushed = this.send(entry.event, 1, entry.ts);
      sent++;
      if (this.lastTs >= feed.floor || this.reachedEnd()) break;
      if (!flushed) await this.drained();
    }
    return sent;
  }

  private goLive(): void {
    const { feed, limits, now } = this.shared;
    feed.join(this);
    this.write(liveEvent({ last_ts: feed.lastTs, server_time: now() }));
    if (now() + limits.maxLiveMs < this.expiresAt) {
      clearTimeout(this.deadline!);
      this.deadline = setTimeout(() => this.end("max_duration"), limits.maxLiveMs);
    }
  }

  /** Returns false when the socket's buffer is full: wait for it to drain before writing more. */
  private send(text: string | Buffer, count: number, lastTs: number): boolean {
    const flushed = this.write(text);
    this.lastTs = lastTs;
    this.sentAny = true;
    if (count > 0) this.shared.onBarsSent(count);
    return flushed;
  }

  private write(text: string | Buffer): boolean {
    return this.res.write(text);
  }

  /** Resolves when the socket drained; ends the stream as a slow consumer if that takes longer than stallMs. */
  private drained(): Promise<void> {
    const { res } = this;
    const { limits } = this.shared;
    return new Promise((resolve) => {
      if (this.ended) return resolve();
      const timer = setTimeout(() => {
        res.off("drain", done);
        this.drainWaiter = null;
        this.end("slow_consumer");
        resolve();
      }, limits.stallMs);
      const done = () => {
        clearTimeout(timer);
        res.off("drain", done);
        this.drainWaiter = null;
        resolve();
      };
      this.drainWaiter = done;
      res.on("drain", done);
    });
  }

  private checkBacklog(): void {
    if (this.res.writableLength > this.shared.limits.maxBufferedBytes) this.end("slow_consumer");
  }

  /** A live bar from the feed's fan-out (which counts the bars sent, so this does not). */
  onBar(entry: LiveBar): boolean {
    if (this.ended || entry.ts <= this.lastTs) return false;
    const { toTs } = this;
    if (toTs !== null && entry.ts > toTs) {
      this.end("to_ts");
      return false;
    }
    this.send(entry.bytes, 0, entry.ts);
    if (this.reachedEnd()) this.end("to_ts");
    else this.checkBacklog();
    return true;
  }

  onForming(event: string, ts: number): void {
    if (this.ended || ts <= this.lastTs) return;
    this.write(event);
    this.checkBacklog();
  }

  /** Written as it comes, between complete bar events; it moves nothing (no `id:`, not lastTs). */
  onPrediction(event: Buffer): void {
    if (this.ended) return;
    this.write(event);
    this.checkBacklog();
  }

  heartbeat(): void {
    if (this.ended) return;
    this.write(HEARTBEAT);
    this.checkBacklog();
  }

  /** Sends `event: end` with the reason and closes the response. Idempotent. */
  end(reason: EndReason): void {
    if (this.ended) return;
    const { res } = this;
    this.write(endEvent({ reason, last_ts: this.sentAny ? this.lastTs : null }));
    this.finish(reason);
    res.end();
    const cutOff = setTimeout(() => res.destroy(), CLOSE_GRACE_MS);
    res.once("finish", () => clearTimeout(cutOff));
    res.once("close", () => clearTimeout(cutOff));
  }

  private finish(reason: EndReason | "client_closed"): void {
    this.ended = true;
    this.shared.feed.leave(this);
    this.shared.predictions.leave(this);
    clearTimeout(this.deadline ?? undefined);
    this.drainWaiter?.();
    this.shared.onEnd(this, reason);
  }
}
