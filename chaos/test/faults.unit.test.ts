import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FAULT_KINDS, FAULT_PLANS, faultSchedule, faultWindow, type PlannedFault } from "../src/faults.ts";

const MINUTE = 60_000;

function byKind(schedule: readonly PlannedFault[]): Map<string, PlannedFault[]> {
  const groups = new Map<string, PlannedFault[]>();
  for (const fault of schedule) groups.set(fault.kind, [...(groups.get(fault.kind) ?? []), fault]);
  return groups;
}

describe("faultSchedule", () => {
  it("is the same for the same seed and length, and another for another seed", () => {
    expect(faultSchedule(7, 10 * MINUTE)).toEqual(faultSchedule(7, 10 * MINUTE));
    expect(faultSchedule(8, 10 * MINUTE)).not.toEqual(faultSchedule(7, 10 * MINUTE));
  });

  it("plans the default soak's faults: each kind at its rate over the 9 min 10 s window", () => {
    const counts = Object.fromEntries([...byKind(faultSchedule(1, 10 * MINUTE))].map(([kind, list]) => [kind, list.length]));
    expect(counts).toEqual({
      "ws-cut": 9,
      "rest-429": 3,
      "rest-418": 2,
      "nats-node-kill": 2,
      "ingestor-kill": 2,
      "gateway-kill": 3,
      "database-stop": 1,
    });
  });

  it("keeps every fault inside the window, every kind at least once, one fault of a kind at a time, sorted by time", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 2 * MINUTE, max: 90 * MINUTE }), (seed, durationMs) => {
        const schedule = faultSchedule(seed, durationMs);
        const { startMs, endMs } = faultWindow(durationMs);
        for (const fault of schedule) {
          expect(fault.atMs).toBeGreaterThanOrEqual(startMs);
          expect(fault.atMs + fault.downMs).toBeLessThanOrEqual(endMs);
          const [low, high] = FAULT_PLANS[fault.kind].downMs;
          expect(fault.downMs).toBeGreaterThanOrEqual(Math.round(low / 100) * 100);
          expect(fault.downMs).toBeLessThanOrEqual(Math.round(high / 100) * 100);
          expect(fault.target).toBeLessThan(FAULT_PLANS[fault.kind].replicas);
        }
        const groups = byKind(schedule);
        expect([...groups.keys()].sort()).toEqual([...FAULT_KINDS].sort());
        for (const list of groups.values()) {
          for (let i = 1; i < list.length; i++) expect(list[i]!.atMs).toBeGreaterThanOrEqual(list[i - 1]!.atMs + list[i - 1]!.downMs);
        }
        expect(schedule.map((f) => f.atMs)).toEqual([...schedule.map((f) => f.atMs)].sort((a, b) => a - b));
      }),
      { numRuns: 200, seed: 42 },
    );
  });

  it("takes down the two ingestors and the two gateways in turn", () => {
    const groups = byKind(faultSchedule(3, 30 * MINUTE));
    for (const kind of ["ingestor-kill", "gateway-kill"]) {
      const targets = groups.get(kind)!.map((f) => f.target);
      for (let i = 1; i < targets.length; i++) expect(targets[i]).not.toBe(targets[i - 1]);
    }
  });

  it("refuses a soak too short for a 30 s database stop between its quiet start and end", () => {
    expect(() => faultSchedule(1, MINUTE)).toThrow(/database-stop of 30000 ms does not fit in a 1-minute soak/);
  });
});
