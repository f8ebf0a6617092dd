import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Trade } from "../src/binance/wire.ts";
import { TradeSequencer } from "../src/continuity.ts";

const t = (id: number): Trade => ({
  symbol: "BTCUSDT",
  id,
  price: 1,
  quantity: 1,
  firstTradeId: id,
  lastTradeId: id,
  time: id,
  buyerIsMaker: false,
  audit: false,
});
const ids = (trades: readonly Trade[]) => trades.map((trade) => trade.id);

describe("TradeSequencer", () => {
  it("holds everything until anchored, then passes trades on from the anchor", () => {
    const sequencer = new TradeSequencer();
    for (const id of [8, 9, 10, 12]) sequencer.offer(t(id));
    expect(sequencer.drain()).toEqual([]);
    expect(sequencer.hole()).toBeNull();
    sequencer.anchorAt(9);
    expect(ids(sequencer.drain())).toEqual([9, 10]);
    expect(sequencer.heldCount).toBe(1);
    expect(sequencer.hole()).toEqual({ fromId: 11, toId: 11 });
  });

  it("drops duplicates and replays by id", () => {
    const sequencer = new TradeSequencer();
    sequencer.anchorAt(1);
    expect(sequencer.offer(t(1))).toBe("new");
    expect(sequencer.offer(t(1))).toBe("duplicate");
    sequencer.drain();
    expect(sequencer.offer(t(1))).toBe("duplicate");
    expect(sequencer.offer(t(3))).toBe("new");
    expect(sequencer.offer(t(3))).toBe("duplicate");
  });

  it("waits for a reordered frame instead of passing a later one first", () => {
    const sequencer = new TradeSequencer();
    sequencer.anchorAt(1);
    sequencer.offer(t(1));
    sequencer.offer(t(3));
    expect(ids(sequencer.drain())).toEqual([1]);
    expect(sequencer.hole()).toEqual({ fromId: 2, toId: 2 });
    sequencer.offer(t(2));
    expect(ids(sequencer.drain())).toEqual([2, 3]);
    expect(sequencer.hole()).toBeNull();
  });

  it("steps over ids a REST page shows do not exist, and no further", () => {
    const sequencer = new TradeSequencer();
    sequencer.anchorAt(1);
    sequencer.offer(t(1));
    sequencer.offer(t(9));
    sequencer.offer(t(20));
    sequencer.drain();
    // A page from id 2 came back with 4 and 7 only: 2, 3, 5, 6 do not exist.
    sequencer.offer(t(4));
    sequencer.offer(t(7));
    expect(ids(sequencer.settleThrough(7))).toEqual([4, 7]);
    expect(sequencer.lastPassedId).toBe(7);
    expect(sequencer.hole()).toEqual({ fromId: 8, toId: 8 });
    expect(ids(sequencer.settleThrough(15))).toEqual([9]);
    expect(sequencer.lastPassedId).toBe(15);
    expect(sequencer.hole()).toEqual({ fromId: 16, toId: 19 });
  });

  it("settles a hole with 190,000 trades held behind it, passing every one on", () => {
    const sequencer = new TradeSequencer();
    sequencer.anchorAt(1);
    const held = 190_000;
    for (let id = 3; id < 3 + held; id++) sequencer.offer(t(id));
    expect(sequencer.hole()).toEqual({ fromId: 1, toId: 2 });
    // A REST page from id 1 listed id 2 only: id 1 does not exist, and everything held follows id 2.
    sequencer.offer(t(2));
    const passed = sequencer.settleThrough(2);
    expect(passed).toHaveLength(held + 1);
    expect(passed[0]!.id).toBe(2);
    expect(passed.at(-1)!.id).toBe(2 + held);
    expect(sequencer.lastPassedId).toBe(2 + held);
    expect(sequencer.heldCount).toBe(0);
  });

  it("leaves trades past its capacity to the repair", () => {
    const sequencer = new TradeSequencer(2);
    sequencer.anchorAt(1);
    expect(sequencer.offer(t(5))).toBe("new");
    expect(sequencer.offer(t(6))).toBe("new");
    expect(sequencer.offer(t(7))).toBe("overflow");
  });

  it("reports the hole before the lowest held id through any mix of offers, drains and settles", () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("offer" as const), id: fc.integer({ min: 1, max: 60 }) }),
      fc.record({ kind: fc.constant("drain" as const) }),
      fc.record({ kind: fc.constant("settle" as const), through: fc.integer({ min: 1, max: 60 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const sequencer = new TradeSequencer();
        sequencer.anchorAt(1);
        const held = new Set<number>();
        for (const step of ops) {
          if (step.kind === "offer") {
            if (sequencer.offer(t(step.id)) === "new") held.add(step.id);
          } else {
            const passed = step.kind === "drain" ? sequencer.drain() : sequencer.settleThrough(step.through);
            for (const trade of passed) held.delete(trade.id);
          }
          const last = sequencer.lastPassedId!;
          const lowest = Math.min(...held);
          const expected = held.size === 0 || lowest === last + 1 ? null : { fromId: last + 1, toId: lowest - 1 };
          expect(sequencer.hole()).toEqual(expected);
        }
      }),
    );
  });

  it("passes every id exactly once, in order, whatever the arrival order and duplication", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.array(fc.nat(), { maxLength: 400 }),
        fc.array(fc.nat(), { maxLength: 100 }),
        (count, order, extra) => {
          const all = Array.from({ length: count }, (_, i) => 1000 + i);
          // Every id once in a shuffled order, plus duplicates drawn from the range.
          const arrival = [...all];
          order.forEach((swap, i) => {
            const a = i % count;
            const b = swap % count;
            [arrival[a], arrival[b]] = [arrival[b]!, arrival[a]!];
          });
          for (const e of extra) arrival.splice(e % (arrival.length + 1), 0, all[e % count]!);
          const sequencer = new TradeSequencer();
          sequencer.anchorAt(1000);
          const passed: number[] = [];
          for (const id of arrival) {
            sequencer.offer(t(id));
            passed.push(...ids(sequencer.drain()));
          }
          expect(passed).toEqual(all);
          expect(sequencer.heldCount).toBe(0);
        },
      ),
    );
  });
});
