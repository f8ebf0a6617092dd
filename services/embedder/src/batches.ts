import type { JsMsg } from "@nats-io/jetstream";

/**
 * Groups the messages a consumer delivers into batches for one commit each: a batch closes when it is full, when its
 * newest message says the stream holds nothing more for the consumer (caught up: no reason to wait), or `lingerMs`
 * after its oldest message arrived. A backlog goes in full batches, a live bar at once.
 */
export class MessageBatches {
  private readonly queue: JsMsg[] = [];
  private oldestAt = 0;
  private ended = false;
  private wake: (() => void) | null = null;
  /** Settles when the delivery ends: resolves when it was closed, rejects when it failed. */
  readonly reading: Promise<void>;

  private readonly maxBatch: number;
  private readonly lingerMs: number;

  constructor(
    messages: AsyncIterable<JsMsg>,
    maxBatch: number,
    lingerMs: number,
  ) {
    this.maxBatch = maxBatch;
    this.lingerMs = lingerMs;
    this.reading = (async () => {
      for await (const msg of messages) {
        if (this.queue.length === 0) this.oldestAt = Date.now();
        this.queue.push(msg);
        this.notify();
      }
    })().finally(() => {
      this.ended = true;
      this.notify();
    });
    this.reading.catch(() => {});
  }

  /** Delivered and not yet taken in a batch. */
  get queued(): readonly JsMsg[] {
    return this.queue;
  }

  /** The next batch; null once the delivery ended or `signal` was aborted. */
  async next(signal: AbortSignal): Promise<JsMsg[] | null> {
    for (;;) {
      if (signal.aborted) return null;
      if (this.queue.length === 0) {
        if (this.ended) return null;
        await this.changed(signal);
        continue;
      }
      const full = this.queue.length >= this.maxBatch;
      const caughtUp = this.queue[this.queue.length - 1]!.info.pending === 0;
      const waitMs = this.oldestAt + this.lingerMs - Date.now();
      if (!full && !caughtUp && !this.ended && waitMs > 0) {
        await this.changed(signal, waitMs);
        continue;
      }
      const batch = this.queue.splice(0, this.maxBatch);
      this.oldestAt = Date.now();
      return batch;
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  /** Until a message arrives, the delivery ends, `signal` is aborted or `ms` pass. */
  private changed(signal: AbortSignal, ms?: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        if (this.wake === done) this.wake = null;
        resolve();
      };
      const timer = ms === undefined ? undefined : setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
      this.wake = done;
    });
  }
}
