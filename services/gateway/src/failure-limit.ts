import { LRUCache } from "lru-cache";

/** Client addresses remembered at once: the busiest are kept, an address quiet for a window is forgotten anyway. */
const MAX_ADDRESSES = 100_000;

interface Window {
  startedAt: number;
  failures: number;
}

/**
 * Failed requests per client address, in fixed windows: once an address has failed `maxFailures` times in a window,
 * it is refused until the window ends. Checked as a request arrives, before its token or session is looked at, so
 * a flood of bad tokens or made-up session ids costs a map lookup each, not a signature check or a KV read.
 */
export class FailureLimiter {
  private readonly windows: LRUCache<string, Window>;

  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly now: () => number;

  constructor(
    maxFailures: number,
    windowMs: number,
    now: () => number,
  ) {
    this.maxFailures = maxFailures;
    this.windowMs = windowMs;
    this.now = now;
    this.windows = new LRUCache({ max: MAX_ADDRESSES });
  }

  /** How long the address must wait before it is served again; 0 when it may be served now. */
  blockedForMs(address: string): number {
    const window = this.windows.get(address);
    if (!window || window.failures < this.maxFailures) return 0;
    return Math.max(0, window.startedAt + this.windowMs - this.now());
  }

  recordFailure(address: string): void {
    const now = this.now();
    const window = this.windows.get(address);
    if (window && now < window.startedAt + this.windowMs) window.failures++;
    else this.windows.set(address, { startedAt: now, failures: 1 });
  }
}
