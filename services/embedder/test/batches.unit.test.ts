import type { JsMsg } from "@nats-io/jetstream";
import { describe, expect, it } from "vitest";
import { MessageBatches } from "../src/batches.ts";

/** A delivery the test feeds by hand; each message carries the consumer's pending count as JetStream sets it. */
function delivery() {
  const queue: JsMsg[] = [];
  let wake: (() => void) | null = null;
  let ended = false;
  const iterable: AsyncIterable<JsMsg> = {
    async *[Symbol.asyncIterator]() {
      for (;;) {
        if (queue.length > 0) yield queue.shift()!;
        else if (ended) return;
        else await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
  const push = (...pending: number[]) => {
    for (const p of pending) queue.push({ seq: queue.length, info: { pending: p } } as unknown as JsMsg);
    wake?.();
  };
  const end = () => {
    ended = true;
    wake?.();
  };
  return { iterable, push, end };
}

const pendingOf = (batch: JsMsg[] | null) => batch?.map((msg) => msg.info.pending);

describe("MessageBatches", () => {
  const signal = new AbortController().signal;

  it("closes a batch when it is full, and at once when the stream is caught up", async () => {
    const { iterable, push } = delivery();
    const batches = new MessageBatches(iterable, 3, 60_000);
    push(9, 8, 7, 6, 5);
    expect(pendingOf(await batches.next(signal))).toEqual([9, 8, 7]);
    push(0);
    expect(pendingOf(await batches.next(signal))).toEqual([6, 5, 0]);
    push(0);
    expect(pendingOf(await batches.next(signal))).toEqual([0]);
  });

  it("waits for more while the stream still holds some, and closes the batch after the linger time", async () => {
    const { iterable, push } = delivery();
    const batches = new MessageBatches(iterable, 100, 60_000);
    push(4, 3);
    const next = batches.next(signal);
    push(2, 0);
    expect(pendingOf(await next)).toEqual([4, 3, 2, 0]);

    const lingering = delivery();
    const short = new MessageBatches(lingering.iterable, 100, 10);
    lingering.push(4, 3);
    expect(pendingOf(await short.next(signal))).toEqual([4, 3]);
  });

  it("ends with null once the delivery ended and everything was taken, or when aborted", async () => {
    const { iterable, push, end } = delivery();
    const batches = new MessageBatches(iterable, 100, 60_000);
    push(5);
    end();
    expect(pendingOf(await batches.next(signal))).toEqual([5]);
    expect(await batches.next(signal)).toBeNull();
    await batches.reading;

    const open = delivery();
    const waiting = new MessageBatches(open.iterable, 100, 60_000);
    const stop = new AbortController();
    const next = waiting.next(stop.signal);
    stop.abort();
    expect(await next).toBeNull();
  });
});
