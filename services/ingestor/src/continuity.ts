/**
 * Continuity of the aggregate-trade id sequence (pure, no I/O). Trades from every source — the WebSocket, REST
 * repairs, REST polling — are offered here; each id comes out once, in id order, and only when every id before it
 * has come out or is known not to exist. An id jump leaves a hole that the feed repairs from REST by `fromId`; an
 * overlap (a replayed or duplicated frame, a REST page overlapping the WebSocket) is dropped by id.
 *
 * Binance does not promise aggregate-trade ids are contiguous, so a hole is a reason to ask REST, not proof of loss: what a
 * REST page starting at `fromId` does not contain up to its last id does not exist (`settleThrough`).
 */
import type { Trade } from "./binance/wire.ts";

export interface IdHole {
  fromId: number;
  toId: number;
}

export type OfferResult = "new" | "duplicate" | "overflow";

const NOTHING: readonly Trade[] = Object.freeze([]);

export class TradeSequencer {
  private lastId: number | null = null;
  private held = new Map<number, Trade>();
  /** Ids of held trades, lowest first; ids no longer held are dropped when they reach the top. */
  private heldIds = new MinIdHeap();
  /** The common case kept off the map: the very next id, arriving with nothing held. */
  private next: Trade | null = null;

  /** @param maxHeld trades held while waiting for a hole to be repaired; beyond it, trades are left to REST. */
  private readonly maxHeld: number;

  constructor(maxHeld = 200_000) {
    this.maxHeld = maxHeld;
  }

  /** Id of the last trade passed on, or null before the sequence is anchored. */
  get lastPassedId(): number | null {
    return this.lastId;
  }

  get heldCount(): number {
    return this.held.size + (this.next ? 1 : 0);
  }

  /** Starts the sequence at `firstId`: lower ids belong to history already accounted for. */
  anchorAt(firstId: number): void {
    this.lastId = firstId - 1;
    if (this.next && this.next.id < firstId) this.next = null;
    for (const id of this.held.keys()) if (id < firstId) this.held.delete(id);
    this.heldIds = new MinIdHeap(this.held.keys());
  }

  offer(trade: Trade): OfferResult {
    const lastId = this.lastId;
    if (lastId !== null && trade.id <= lastId) return "duplicate";
    if (lastId !== null && trade.id === lastId + 1 && this.next === null && this.held.size === 0) {
      this.next = trade;
      return "new";
    }
    if (this.next?.id === trade.id || this.held.has(trade.id)) return "duplicate";
    // Dropping is safe: a dropped trade lies past a hole, and the repair pages through it by id.
    if (this.held.size >= this.maxHeld) return "overflow";
    this.held.set(trade.id, trade);
    this.heldIds.push(trade.id);
    return "new";
  }

  /** Trades that continue the sequence, in id order. */
  drain(): readonly Trade[] {
    if (this.next === null && this.held.size === 0) return NOTHING;
    return this.drainInto([]);
  }

  /** Appends the trades that continue the sequence to `out` one by one (a spread of 100k+ would overflow the stack). */
  private drainInto(out: Trade[]): Trade[] {
    const first = this.next;
    if (first !== null) {
      this.next = null;
      this.lastId = first.id;
      out.push(first);
    }
    if (this.lastId === null || this.held.size === 0) return out;
    for (let next = this.held.get(this.lastId + 1); next; next = this.held.get(this.lastId + 1)) {
      this.held.delete(next.id);
      this.lastId = next.id;
      out.push(next);
    }
    return out;
  }

  /**
   * A REST page that started at the next expected id and ended at `lastId` has been offered: ids up to `lastId`
   * that it did not contain do not exist. Steps over them and returns every trade that now continues the sequence.
   */
  settleThrough(lastId: number): Trade[] {
    const out = this.drainInto([]);
    if (this.lastId === null) return out;
    while (this.lastId < lastId) {
      const nextHeld = this.lowestHeldId();
      if (nextHeld === null || nextHeld > lastId) {
        this.lastId = lastId;
      } else {
        this.lastId = nextHeld - 1;
      }
      this.drainInto(out);
    }
    return out;
  }

  /** The ids missing before the earliest held trade, or null when nothing is held behind a hole. */
  hole(): IdHole | null {
    // A pending `next` is the very next id: nothing is missing before it.
    if (this.lastId === null || this.next !== null) return null;
    const lowest = this.lowestHeldId();
    return lowest === null || lowest === this.lastId + 1 ? null : { fromId: this.lastId + 1, toId: lowest - 1 };
  }

  /** Kept incrementally: this runs after every WebSocket trade while a hole is open. */
  private lowestHeldId(): number | null {
    const heap = this.heldIds;
    for (let id = heap.peek(); id !== undefined; id = heap.peek()) {
      if (this.held.has(id)) return id;
      heap.pop();
    }
    return null;
  }
}

/** A binary min-heap of ids. */
class MinIdHeap {
  private readonly ids: number[] = [];

  constructor(ids: Iterable<number> = []) {
    for (const id of ids) this.push(id);
  }

  peek(): number | undefined {
    return this.ids[0];
  }

  push(id: number): void {
    const ids = this.ids;
    let i = ids.length;
    ids.push(id);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (ids[parent]! <= id) break;
      ids[i] = ids[parent]!;
      i = parent;
    }
    ids[i] = id;
  }

  pop(): void {
    const ids = this.ids;
    const last = ids.pop();
    if (last === undefined || ids.length === 0) return;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= ids.length) break;
      if (child + 1 < ids.length && ids[child + 1]! < ids[child]!) child++;
      if (ids[child]! >= last) break;
      ids[i] = ids[child]!;
      i = child;
    }
    ids[i] = last;
  }
}
