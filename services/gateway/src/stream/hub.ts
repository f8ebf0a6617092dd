import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { EndReason, NatsNames } from "@gapfill/contracts";
import { withTimeout, type Logger } from "@gapfill/kit";
import { Coalesced } from "../coalesced.ts";
import { BarFeed, type BarEntry } from "./bar-feed.ts";
import type { GapStream } from "./gap-stream.ts";
import { replayFromJetStream } from "./jetstream-replay.ts";
import { PredictionFeed } from "./prediction-feed.ts";
import { parseStoredBar } from "./stored-bar.ts";

export interface HubDeps {
  nc: NatsConnection;
  names: NatsNames;
  symbols: readonly string[];
  windowBars: number;
  heartbeatMs: number;
  now: () => number;
  log: Logger;
  onFanOut?: (written: number) => void;
  /** Every bar read from the stream, per symbol, before it is fanned out (bootstrap pages are dropped by it). */
  onStoredBar?: (symbol: string, ts: number) => void;
}

/**
 * Everything gap streams share in one process: a BarFeed per symbol, the open streams by session (so a stop seen
 * on the KV bucket closes them), one heartbeat timer for all streams, and the end-all at shutdown; and a
 * PredictionFeed per symbol for the streams that ask for predictions.
 */
export class Hub {
  private readonly feeds = new Map<string, BarFeed>();
  private readonly predictionFeeds = new Map<string, PredictionFeed>();
  /** Open streams by session: the stream itself while it is the session's only one (the usual case), else a set. */
  private readonly streams = new Map<string, GapStream | Set<GapStream>>();
  private readonly replays = new Map<string, (afterTs: number) => AsyncGenerator<BarEntry>>();
  private readonly heartbeat: NodeJS.Timeout;
  /** Direct gets of a subject's last sequence, shared by the requests that wait for one (see Coalesced). */
  private readonly lastSeqReads = new Coalesced<string, number | null>();

  private readonly deps: HubDeps;
  private readonly js: JetStreamClient;
  private readonly jsm: JetStreamManager;

  private constructor(
    deps: HubDeps,
    js: JetStreamClient,
    jsm: JetStreamManager,
  ) {
    this.deps = deps;
    this.js = js;
    this.jsm = jsm;
    this.heartbeat = setInterval(() => this.beat(), deps.heartbeatMs);
    this.heartbeat.unref();
  }

  /** Starts one feed per symbol; streams wait on `feed.ready`, so start-up does not wait for hydration. */
  static async start(deps: HubDeps): Promise<Hub> {
    const hub = new Hub(deps, jetstream(deps.nc), await jetstreamManager(deps.nc));
    for (const symbol of deps.symbols) {
      const feed = new BarFeed({
        nc: deps.nc,
        js: hub.js,
        jsm: hub.jsm,
        stream: deps.names.streams.bars,
        barsSubject: deps.names.subjects.bars(symbol),
        liveSubject: deps.names.subjects.live(symbol),
        windowBars: deps.windowBars,
        now: deps.now,
        log: deps.log.child({ symbol }),
        onFanOut: deps.onFanOut,
        onStoredBar: deps.onStoredBar && ((ts) => deps.onStoredBar!(symbol, ts)),
      });
      hub.feeds.set(symbol, feed);
      await feed.start();
      const predictions = new PredictionFeed({
        js: hub.js,
        jsm: hub.jsm,
        stream: deps.names.streams.mlEvents,
        subject: deps.names.subjects.predictions(symbol),
        symbol,
        log: deps.log.child({ symbol }),
      });
      hub.predictionFeeds.set(symbol, predictions);
      await predictions.start();
    }
    return hub;
  }

  feed(symbol: string): BarFeed | undefined {
    return this.feeds.get(symbol);
  }

  predictions(symbol: string): PredictionFeed | undefined {
    return this.predictionFeeds.get(symbol);
  }

  /** True once every feed has caught up with its subject. */
  async ready(): Promise<void> {
    await Promise.all([...this.feeds.values()].map((feed) => feed.ready));
  }

  /** Open time of the oldest bar the BARS stream still holds for the symbol, or null when it holds none. */
  async earliestBarTs(symbol: string): Promise<number | null> {
    const subject = this.deps.names.subjects.bars(symbol);
    const first = await this.jsm.direct.getMessage(this.deps.names.streams.bars, { seq: 1, next_by_subj: subject });
    return first ? (parseStoredBar(first.data, subject, this.deps.log)?.ts ?? null) : null;
  }

  /**
   * Resolves true once the symbol's feed has read every bar the stream held when this was called (the subject's
   * last sequence, read now by a direct get); false when NATS does not answer or the feed is not there within
   * `timeoutMs`.
   */
  async caughtUp(symbol: string, timeoutMs: number): Promise<boolean> {
    const feed = this.feeds.get(symbol);
    if (!feed) return false;
    const { streams, subjects } = this.deps.names;
    try {
      const lastSeq = await this.lastSeqReads.run(symbol, async (seal) => {
        seal();
        const last = await withTimeout(this.jsm.direct.getMessage(streams.bars, { last_by_subj: subjects.bars(symbol) }), timeoutMs, "direct get");
        return last?.seq ?? null;
      });
      return lastSeq === null || (await feed.readUpTo(lastSeq, timeoutMs));
    } catch (error) {
      this.deps.log.debug({ err: error, symbol }, "could not read the stream's last sequence");
      return false;
    }
  }

  /** Bars older than the symbol's window, from JetStream; one function per symbol, shared by its streams. */
  replayOlder(symbol: string): (afterTs: number) => AsyncGenerator<BarEntry> {
    let replay = this.replays.get(symbol);
    if (!replay) {
      const deps = {
        js: this.js,
        jsm: this.jsm,
        stream: this.deps.names.streams.bars,
        barsSubject: this.deps.names.subjects.bars(symbol),
        log: this.deps.log,
      };
      replay = (afterTs) => replayFromJetStream(deps, afterTs);
      this.replays.set(symbol, replay);
    }
    return replay;
  }

  /** Streams of the session open on this process. */
  openStreams(sessionId: string): number {
    const open = this.streams.get(sessionId);
    return open === undefined ? 0 : open instanceof Set ? open.size : 1;
  }

  add(stream: GapStream): void {
    const open = this.streams.get(stream.sessionId);
    if (open === undefined) this.streams.set(stream.sessionId, stream);
    else if (open instanceof Set) open.add(stream);
    else this.streams.set(stream.sessionId, new Set([open, stream]));
  }

  remove(stream: GapStream): void {
    const open = this.streams.get(stream.sessionId);
    if (open === stream || (open instanceof Set && open.delete(stream) && open.size === 0)) this.streams.delete(stream.sessionId);
  }

  /** Ends every stream of the session on this replica, e.g. when it was stopped (here or on another replica). */
  endSession(sessionId: string, reason: EndReason): number {
    const open = this.streams.get(sessionId);
    if (open === undefined) return 0;
    const ending = open instanceof Set ? [...open] : [open];
    for (const stream of ending) stream.end(reason);
    return ending.length;
  }

  endAll(reason: EndReason): void {
    for (const sessionId of [...this.streams.keys()]) this.endSession(sessionId, reason);
  }

  private beat(): void {
    for (const open of this.streams.values()) {
      if (open instanceof Set) for (const stream of open) stream.heartbeat();
      else open.heartbeat();
    }
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    this.endAll("shutdown");
    await Promise.all([...this.feeds.values(), ...this.predictionFeeds.values()].map((feed) => feed.close()));
  }
}
