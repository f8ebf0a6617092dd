import type { JetStreamManager } from "@nats-io/jetstream";
import { decodeTickMessage } from "@gapfill/kit";
import type { NatsNames, TickEvent, TickKind } from "@gapfill/contracts";
import type { SchedulerClock } from "../src/index.ts";

/** A clock the test moves by hand: sleepers wake when the time reaches their deadline, or on abort. */
export class ManualClock implements SchedulerClock {
  private sleepers: { until: number; wake: () => void }[] = [];

  private time: number;

  constructor(time: number) {
    this.time = time;
  }

  now(): number {
    return this.time;
  }

  sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const sleeper = { until: this.time + Math.max(0, ms), wake: () => resolve() };
      this.sleepers.push(sleeper);
      signal.addEventListener(
        "abort",
        () => {
          this.sleepers = this.sleepers.filter((s) => s !== sleeper);
          resolve();
        },
        { once: true },
      );
    });
  }

  set(time: number): void {
    this.time = time;
    const due = this.sleepers.filter((s) => s.until <= time);
    this.sleepers = this.sleepers.filter((s) => s.until > time);
    for (const sleeper of due) sleeper.wake();
  }
}

/** Every message on a kind's tick subject, oldest first, decoded (`tick` null for one that is not a tick). */
export async function ticksOnSubject(
  jsm: JetStreamManager,
  names: NatsNames,
  kind: TickKind,
): Promise<{ seq: number; tick: TickEvent | null }[]> {
  const subject = names.subjects.tick(kind);
  const found: { seq: number; tick: TickEvent | null }[] = [];
  for (let seq = 1; ; ) {
    const msg = await jsm.direct.getMessage(names.streams.mlTicks, { seq, next_by_subj: subject });
    if (!msg) return found;
    const decoded = decodeTickMessage(subject, msg.data);
    found.push({ seq: msg.seq, tick: decoded.ok ? decoded.tick : null });
    seq = msg.seq + 1;
  }
}

/** The window starts ticked on a kind's subject, oldest first. */
export async function tickedWindows(jsm: JetStreamManager, names: NatsNames, kind: TickKind): Promise<number[]> {
  return (await ticksOnSubject(jsm, names, kind)).flatMap(({ tick }) => (tick ? [tick.window_start] : []));
}
