import type { ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import { predictionEventSchema } from "@gapfill/contracts";
import type { Logger } from "@gapfill/kit";
import { PULL_EXPIRES_MS } from "./ordered-consumer.ts";
import { predictionEvent } from "./sse-format.ts";

/** A gap stream that asked for predictions. */
export interface PredictionListener {
  /** One complete `event: prediction`, encoded once for every listener. */
  onPrediction(event: Buffer): void;
}

export interface PredictionFeedDeps {
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** The ML events stream. */
  stream: string;
  /** The symbol's predictions subject. */
  subject: string;
  symbol: string;
  log: Logger;
}

/**
 * One symbol's predictions for every gap stream of this process that asked for them: one ordered consumer starting
 * at the newest prediction the stream holds, so the feed always knows the newest one (what a stream gets when it
 * connects) and hands each new one to the streams listening, whatever their number.
 */
export class PredictionFeed {
  private newest: Buffer | null = null;
  private readonly listeners = new Set<PredictionListener>();
  private messages: ConsumerMessages | null = null;
  private deleteConsumer: (() => Promise<unknown>) | null = null;

  private readonly deps: PredictionFeedDeps;

  constructor(deps: PredictionFeedDeps) {
    this.deps = deps;
  }

  async start(): Promise<void> {
    const { js, jsm, stream, subject } = this.deps;
    // Read before the last prediction: one published in between has a greater sequence, so it is not skipped.
    const streamLastSeq = (await jsm.streams.info(stream)).state.last_seq;
    const last = await jsm.direct.getMessage(stream, { last_by_subj: subject });
    // By sequence, not DeliverPolicy.LastPerSubject: a consumer recreated after a NATS restart before its first
    // message would otherwise start over from the subject's first message.
    const consumer = await js.consumers.get(stream, { filter_subjects: subject, opt_start_seq: last?.seq ?? streamLastSeq + 1 });
    this.deleteConsumer = () => consumer.delete();
    this.messages = await consumer.consume({ callback: (msg) => this.onPublished(msg), expires: PULL_EXPIRES_MS });
  }

  /** Adds a listener and hands it the newest prediction at once, when there is one. */
  join(listener: PredictionListener): void {
    this.listeners.add(listener);
    if (this.newest) listener.onPrediction(this.newest);
  }

  leave(listener: PredictionListener): void {
    this.listeners.delete(listener);
  }

  private onPublished(msg: JsMsg): void {
    const { symbol, log } = this.deps;
    let parsed;
    try {
      parsed = predictionEventSchema.safeParse(msg.json());
    } catch {
      parsed = null;
    }
    if (!parsed?.success || parsed.data.symbol !== symbol) {
      log.warn({ subject: msg.subject, seq: msg.seq }, "skipping an invalid prediction");
      return;
    }
    const event = Buffer.from(predictionEvent(parsed.data));
    this.newest = event;
    for (const listener of this.listeners) listener.onPrediction(event);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await this.messages?.close();
    await this.deleteConsumer?.().catch(() => false);
  }
}
