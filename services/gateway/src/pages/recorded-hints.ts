import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { NatsNames } from "@gapfill/contracts";

/**
 * The recorders' "committed bars of SYMBOL" messages (core NATS, best effort), counted per symbol. A bootstrap page
 * that lacked bars the stream has waits for the next one before reading the table again, so a bar close costs two
 * reads rather than one per client. Only a wake-up: freshness never depends on a hint arriving.
 */
export class RecordedHints {
  private readonly counts = new Map<string, number>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly subs: Subscription[] = [];

  constructor(nc: NatsConnection, names: NatsNames, symbols: readonly string[]) {
    for (const symbol of symbols) {
      this.counts.set(symbol, 0);
      this.subs.push(
        nc.subscribe(names.subjects.recorded(symbol), {
          callback: () => {
            this.counts.set(symbol, this.count(symbol) + 1);
            const waiting = this.waiters.get(symbol);
            this.waiters.delete(symbol);
            for (const wake of waiting ?? []) wake();
          },
        }),
      );
    }
  }

  count(symbol: string): number {
    return this.counts.get(symbol) ?? 0;
  }

  /** Resolves once a hint for the symbol came after the `seen`-th, or after `timeoutMs`. */
  after(symbol: string, seen: number, timeoutMs: number): Promise<void> {
    if (this.count(symbol) > seen) return Promise.resolve();
    return new Promise((resolve) => {
      let waiting = this.waiters.get(symbol);
      if (!waiting) this.waiters.set(symbol, (waiting = new Set()));
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.get(symbol)?.delete(wake);
        resolve();
      }, timeoutMs);
      waiting.add(wake);
    });
  }

  close(): void {
    for (const sub of this.subs) sub.unsubscribe();
  }
}
