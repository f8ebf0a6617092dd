/**
 * The seeded fault schedule: a pure function of the seed and the soak's length. Faults of one kind never overlap (one
 * NATS node, one ingestor, one gateway down at a time, so the cluster keeps its quorum); faults of different kinds
 * may. Every kind happens at least once, all inside the fault window, so the stack has a quiet start and time to
 * settle before the checks.
 */
import { seededWords } from "@gapfill/testkit";

export const FAULT_KINDS = ["ws-cut", "rest-429", "rest-418", "nats-node-kill", "ingestor-kill", "gateway-kill", "database-stop"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface PlannedFault {
  kind: FaultKind;
  /** Milliseconds after the soak's start. */
  atMs: number;
  /** How long the component stays down; 0 for a one-shot fault. */
  downMs: number;
  /**
   * Which replica: ingestor 0..1, gateway 0..1; 0 where there is one, and for a NATS node, which is chosen when the
   * fault happens: the one leading the bars stream.
   */
  target: number;
}

interface KindPlan {
  perMinute: number;
  downMs: readonly [number, number];
  replicas: number;
}

export const FAULT_PLANS: Record<FaultKind, KindPlan> = {
  "ws-cut": { perMinute: 1, downMs: [0, 0], replicas: 1 },
  "rest-429": { perMinute: 1 / 3, downMs: [0, 0], replicas: 1 },
  "rest-418": { perMinute: 1 / 4, downMs: [0, 0], replicas: 1 },
  "nats-node-kill": { perMinute: 1 / 4, downMs: [8_000, 20_000], replicas: 1 },
  "ingestor-kill": { perMinute: 1 / 4, downMs: [3_000, 10_000], replicas: 2 },
  "gateway-kill": { perMinute: 1 / 3, downMs: [2_000, 8_000], replicas: 2 },
  "database-stop": { perMinute: 1 / 8, downMs: [30_000, 30_000], replicas: 1 },
};

/** Faults start this long after the soak and are all over this long before its end. */
export const QUIET_START_MS = 20_000;
export const QUIET_END_MS = 30_000;

export function faultWindow(durationMs: number): { startMs: number; endMs: number } {
  return { startMs: QUIET_START_MS, endMs: durationMs - QUIET_END_MS };
}

/**
 * Each kind's faults, `max(1, round(perMinute × window minutes))` of them, one in each equal slot of the window at a
 * seeded time that lets it end inside its slot; targets rotate from a seeded first replica. Sorted by time.
 */
export function faultSchedule(seed: number, durationMs: number): PlannedFault[] {
  const { startMs, endMs } = faultWindow(durationMs);
  const windowMs = endMs - startMs;
  const word = seededWords(seed);
  const uniform = (low: number, high: number) => low + Math.floor((word() / 2 ** 32) * (high - low + 1));
  const faults: PlannedFault[] = [];
  for (const kind of FAULT_KINDS) {
    const plan = FAULT_PLANS[kind];
    const count = Math.max(1, Math.round((plan.perMinute * windowMs) / 60_000));
    const slotMs = Math.floor(windowMs / count);
    const firstTarget = uniform(0, plan.replicas - 1);
    for (let i = 0; i < count; i++) {
      const downMs = Math.round(uniform(plan.downMs[0], plan.downMs[1]) / 100) * 100;
      const slotStart = startMs + i * slotMs;
      const latest = slotStart + slotMs - downMs;
      if (latest < slotStart) {
        throw new Error(`faultSchedule: a ${kind} of ${downMs} ms does not fit in a ${durationMs / 60_000}-minute soak (window ${windowMs} ms)`);
      }
      faults.push({ kind, atMs: uniform(slotStart, latest), downMs, target: (firstTarget + i) % plan.replicas });
    }
  }
  return faults.sort((a, b) => a.atMs - b.atMs || FAULT_KINDS.indexOf(a.kind) - FAULT_KINDS.indexOf(b.kind));
}
