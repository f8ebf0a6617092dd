import { BAR_MS } from "@gapfill/contracts";
import type { BarStore } from "@gapfill/kit";
import { Coalesced } from "./coalesced.ts";

/**
 * How far down from the table's newest bar holes are looked for: an hour. The recorder can leave holes near the top
 * for a while (two recorders committing out of order; a crashed recorder's batch redelivered only after its ack
 * wait, while newer bars are written), and they are filled within minutes.
 */
export const SEAM_PROBE_BARS = 240;

/** A bootstrap page is cached as immutable only when its newest possible bar is this far below the seam. */
export const IMMUTABLE_BELOW_SEAM_MS = SEAM_PROBE_BARS * BAR_MS;

/**
 * The seam between bootstrap and the gap stream: given the table's newest bars (newest first), walks up from the
 * oldest of them while the bars are consecutive and returns the last one before the first missing bar (the newest
 * bar when there is none). Bootstrap serves ts <= seam, the gap stream ts > seam, so a hole above the seam is
 * filled from JetStream instead of staying on the chart. Null when there are no bars.
 */
export function contiguousSeam(newestFirst: readonly { ts: number }[]): number | null {
  let index = newestFirst.length - 1;
  if (index < 0) return null;
  let seam = newestFirst[index]!.ts;
  while (--index >= 0 && newestFirst[index]!.ts === seam + BAR_MS) seam += BAR_MS;
  return seam;
}

/** The store's seam for the symbol (see contiguousSeam); null for an empty table. */
export async function readSeam(store: BarStore, symbol: string): Promise<number | null> {
  return contiguousSeam(await store.pageNewestFirst(symbol, { limit: SEAM_PROBE_BARS }));
}

/**
 * Seam reads shared by concurrent callers (session starts, bootstrap pages): each call gets a read that started after
 * it, so the seam is as fresh as a read of its own, while a burst of calls costs a read or two.
 */
export class SeamReader {
  private readonly reads = new Coalesced<string, number | null>();

  private readonly store: BarStore;
  private readonly onRead: () => void;

  constructor(
    store: BarStore,
    onRead: () => void = () => {},
  ) {
    this.store = store;
    this.onRead = onRead;
  }

  read(symbol: string): Promise<number | null> {
    return this.reads.run(symbol, (seal) => {
      seal();
      this.onRead();
      return readSeam(this.store, symbol);
    });
  }
}
