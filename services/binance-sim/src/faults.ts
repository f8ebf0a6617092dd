import type { SimFaults, SimFaultsPatch } from "@gapfill/contracts";
import { keyedUniform } from "./random.ts";

export const NO_FAULTS: SimFaults = {
  wsDropEveryMs: 0,
  wsDropAt: [],
  dropNow: false,
  wsWithholdIds: [],
  wsWithholdProbability: 0,
  wsDuplicateProbability: 0,
  wsReorderWindow: 0,
  wsDelayMs: 0,
  restErrorBurst: null,
  restLatencyMs: 0,
};

export interface RestFault {
  status: 429 | 418 | 500;
  retryAfterSeconds: number;
}

/**
 * The fault switches of a running simulator. Patches replace the fields they name; `dropNow` is an action, not a
 * state, and is handed to the listeners once. Listeners (the WebSocket hub, the feed) re-arm their timers.
 */
export class FaultSwitch {
  private state: SimFaults = { ...NO_FAULTS };
  private withheldIds = new Set<number>();
  private readonly listeners: ((faults: SimFaults, dropNow: boolean) => void)[] = [];

  private readonly seed: number;

  constructor(
    seed: number,
    initial: SimFaultsPatch = {},
  ) {
    this.seed = seed;
    this.apply(initial);
  }

  get current(): SimFaults {
    return structuredClone(this.state);
  }

  onChange(listener: (faults: SimFaults, dropNow: boolean) => void): void {
    this.listeners.push(listener);
  }

  apply(patch: SimFaultsPatch): SimFaults {
    const { dropNow = false, ...rest } = structuredClone(patch);
    this.state = { ...this.state, ...rest, dropNow: false };
    this.withheldIds = new Set(this.state.wsWithholdIds);
    for (const listener of this.listeners) listener(this.current, dropNow);
    return this.current;
  }

  /** Consumes one answer of the REST error burst, if one is armed. */
  takeRestFault(): RestFault | null {
    const burst = this.state.restErrorBurst;
    if (!burst || burst.count <= 0) return null;
    burst.count--;
    if (burst.count === 0) this.state.restErrorBurst = null;
    return { status: burst.status, retryAfterSeconds: burst.retryAfterSeconds ?? 1 };
  }

  get restLatencyMs(): number {
    return this.state.restLatencyMs;
  }

  /** Whether trade `aggId` is kept off the WebSocket: listed, or drawn (reproducibly per id) at the probability. */
  withholds(aggId: number): boolean {
    if (this.withheldIds.has(aggId)) return true;
    const p = this.state.wsWithholdProbability;
    return p > 0 && keyedUniform(this.seed, aggId) < p;
  }

  get duplicateProbability(): number {
    return this.state.wsDuplicateProbability;
  }

  get reorderWindow(): number {
    return this.state.wsReorderWindow;
  }

  get delayMs(): number {
    return this.state.wsDelayMs;
  }
}
