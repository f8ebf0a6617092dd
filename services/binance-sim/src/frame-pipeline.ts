import type { FaultSwitch } from "./faults.ts";
import type { Random } from "./random.ts";

/** Held frames of a reorder window go out after this long even when the window has not filled. */
const REORDER_FLUSH_MS = 50;

/**
 * The way out of one WebSocket connection, where the frame faults act: duplicate (a frame sent twice), reorder
 * (frames shuffled within a window) and delay (every frame sent late). Fault settings are read per frame, so a
 * change at run time applies to the next frame.
 */
export class FramePipeline {
  private held: string[] = [];
  private flushTimer: NodeJS.Timeout | null = null;
  private readonly delayTimers = new Set<NodeJS.Timeout>();
  private closed = false;

  private readonly deliver: (frame: string) => void;
  private readonly faults: FaultSwitch;
  private readonly random: Random;
  private readonly onDuplicate: () => void;

  constructor(
    deliver: (frame: string) => void,
    faults: FaultSwitch,
    random: Random,
    onDuplicate: () => void,
  ) {
    this.deliver = deliver;
    this.faults = faults;
    this.random = random;
    this.onDuplicate = onDuplicate;
  }

  push(frame: string): void {
    if (this.closed) return;
    const p = this.faults.duplicateProbability;
    const copies = p > 0 && this.random.chance(p) ? 2 : 1;
    if (copies === 2) this.onDuplicate();
    for (let copy = 0; copy < copies; copy++) this.reorder(frame);
  }

  close(): void {
    this.closed = true;
    this.held = [];
    if (this.flushTimer) clearTimeout(this.flushTimer);
    for (const timer of this.delayTimers) clearTimeout(timer);
    this.delayTimers.clear();
  }

  private reorder(frame: string): void {
    const window = this.faults.reorderWindow;
    if (window <= 1 && this.held.length === 0) {
      this.delay(frame);
      return;
    }
    this.held.push(frame);
    if (this.held.length >= Math.max(1, window)) this.flushHeld();
    else this.flushTimer ??= setTimeout(() => this.flushHeld(), REORDER_FLUSH_MS);
  }

  private flushHeld(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    const frames = this.held;
    this.held = [];
    for (let i = frames.length - 1; i > 0; i--) {
      const j = this.random.integer(0, i);
      [frames[i], frames[j]] = [frames[j]!, frames[i]!];
    }
    for (const frame of frames) this.delay(frame);
  }

  private delay(frame: string): void {
    const ms = this.faults.delayMs;
    if (ms <= 0) {
      this.deliver(frame);
      return;
    }
    const timer = setTimeout(() => {
      this.delayTimers.delete(timer);
      if (!this.closed) this.deliver(frame);
    }, ms);
    this.delayTimers.add(timer);
  }
}
