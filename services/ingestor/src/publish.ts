/**
 * Publishing closed bars to `bars.15s.<SYMBOL>`, once each and in order. Every bar carries `Nats-Msg-Id =
 * <SYMBOL>:<ts>` (JetStream drops a republish within the duplicate window) and the expected last subject sequence
 * of the bar before it, so the server refuses a bar that does not follow the one we think is last. A refusal
 * ("wrong last sequence") means another ingestor got there first: we re-read the subject's last bar and carry on
 * from it, skipping the bars it already has. Two ingestors therefore write one series.
 */
import { setTimeout as sleep } from "node:timers/promises";
import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type PubAck,
} from "@nats-io/jetstream";
import { barMsgId, nextBarTs, type ClosedBar, type NatsNames } from "@gapfill/contracts";
import { backoffDelayMs, decodeBarMessage, type Logger } from "@gapfill/kit";

export interface StoredBar {
  bar: ClosedBar;
  /** Stream sequence of the message. */
  seq: number;
}

/** The last bar of a symbol in the BARS stream (direct get, last by subject), or null when it has none. */
export async function readLastBar(jsm: JetStreamManager, names: NatsNames, symbol: string): Promise<StoredBar | null> {
  const subject = names.subjects.bars(symbol);
  const message = await jsm.direct.getMessage(names.streams.bars, { last_by_subj: subject });
  if (!message) return null;
  const decoded = decodeBarMessage(subject, message.data);
  if (!decoded.ok) throw new Error(`last message on ${subject} (seq ${message.seq}) is not a bar: ${decoded.reason}`);
  return { bar: decoded.bar, seq: message.seq };
}

export interface BarPublisherDeps {
  js: JetStreamClient;
  jsm: JetStreamManager;
  names: NatsNames;
  symbol: string;
  log: Logger;
  /** Called for each bar JetStream acknowledged (a duplicate ack included: the bar is in the stream). */
  onPublished?: (bar: ClosedBar, ack: PubAck) => void;
  /** Called when the stream refused a bar because another writer had moved the subject on. */
  onConflict?: () => void;
  /** Aborting it stops publishing: queued bars are given up, a retry pause ends at once. */
  signal: AbortSignal;
}

export class BarPublisher {
  private queue: ClosedBar[] = [];
  private lastSeq: number;
  private lastTs: number | null;
  private pumping: Promise<void> | null = null;
  private readonly subject: string;

  private readonly deps: BarPublisherDeps;

  constructor(
    deps: BarPublisherDeps,
    last: StoredBar | null,
  ) {
    this.deps = deps;
    this.subject = deps.names.subjects.bars(deps.symbol);
    this.lastSeq = last?.seq ?? 0;
    this.lastTs = last?.bar.ts ?? null;
  }

  /** Open time of the newest bar known to be in the stream. */
  get lastPublishedTs(): number | null {
    return this.lastTs;
  }

  enqueue(bars: readonly ClosedBar[]): void {
    if (bars.length === 0 || this.stopped) return;
    for (const bar of bars) this.queue.push(bar);
    this.pumping ??= this.pump().finally(() => {
      this.pumping = null;
    });
  }

  /** Resolves when every queued bar is in the stream (or the publisher stopped). */
  async drained(): Promise<void> {
    while (this.pumping) await this.pumping;
  }

  private get stopped(): boolean {
    return this.deps.signal.aborted;
  }

  /** Waits before a retry; resolves early when the publisher stops. */
  private async pause(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.deps.signal }).catch(() => undefined);
  }

  private async pump(): Promise<void> {
    const { log } = this.deps;
    let failures = 0;
    while (this.queue.length > 0 && !this.stopped) {
      const bar = this.queue[0]!;
      if (this.lastTs !== null && bar.ts <= this.lastTs) {
        this.queue.shift();
        continue;
      }
      try {
        const ack = await this.deps.js.publish(this.subject, JSON.stringify(bar), {
          msgID: barMsgId(bar.symbol, bar.ts),
          expect: { lastSubjectSequence: this.lastSeq },
          timeout: 5000,
        });
        if (this.lastTs !== null && bar.ts !== nextBarTs(this.lastTs)) {
          log.warn({ ts: bar.ts, previousTs: this.lastTs }, "published a bar that does not follow the stream's last bar");
        }
        this.lastSeq = ack.seq;
        this.lastTs = bar.ts;
        this.queue.shift();
        failures = 0;
        this.deps.onPublished?.(bar, ack);
      } catch (error) {
        if (this.stopped) return;
        if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamWrongLastSequence) {
          this.deps.onConflict?.();
          await this.catchUpWithStream(bar.ts);
          continue;
        }
        failures++;
        const waitMs = backoffDelayMs(failures, { initialMs: 200, maxMs: 10_000 });
        log.warn({ ts: bar.ts, err: (error as Error).message, retryInMs: waitMs }, "publishing a bar failed; retrying");
        await this.pause(waitMs);
      }
    }
  }

  /** Another writer moved the subject on: adopt its last bar as ours. */
  private async catchUpWithStream(ourTs: number): Promise<void> {
    const { log, jsm, names, symbol } = this.deps;
    for (let failures = 1; !this.stopped; failures++) {
      try {
        const last = await readLastBar(jsm, names, symbol);
        this.lastSeq = last?.seq ?? 0;
        this.lastTs = last?.bar.ts ?? null;
        log.info(
          { ourTs, streamLastTs: this.lastTs, streamLastSeq: this.lastSeq },
          "another ingestor published first; carrying on from the stream's last bar",
        );
        return;
      } catch (error) {
        log.warn({ err: (error as Error).message }, "reading the last bar failed; retrying");
        await this.pause(backoffDelayMs(failures, { initialMs: 200, maxMs: 10_000 }));
      }
    }
  }
}
