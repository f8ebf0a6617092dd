/**
 * Market time: the host's clock corrected by its offset from Binance's. Bar boundaries, the kline handover and the
 * grace period are Binance's times, so a host clock that runs ahead would close bars before Binance has finished
 * them, and one that runs behind would hold them (and take fresh trades for future ones). The offset is measured
 * from `GET /api/v3/time` at start and every hour.
 */

/** One exchange with the time endpoint, on the host's clock: Binance read its clock between sentAt and receivedAt. */
export interface ServerTimeSample {
  serverTime: number;
  sentAt: number;
  receivedAt: number;
}

/**
 * The offset (Binance − host) a sample proves: the value nearest zero within [serverTime − receivedAt,
 * serverTime − sentAt]. An offset smaller than the round trip cannot be told from zero, and correcting by noise
 * would move market time for nothing.
 */
export function offsetFrom({ serverTime, sentAt, receivedAt }: ServerTimeSample): number {
  const lowest = serverTime - receivedAt;
  const highest = serverTime - sentAt;
  if (lowest > 0) return lowest;
  if (highest < 0) return highest;
  return 0;
}

export class MarketClock {
  private offset = 0;

  /** @param host the clock being corrected (Date.now in production, a simulator's clock in tests) */
  private readonly host: () => number;

  constructor(host: () => number) {
    this.host = host;
  }

  /** Market time in epoch ms. */
  readonly now = (): number => this.host() + this.offset;

  get offsetMs(): number {
    return this.offset;
  }

  /** Takes the offset a sample proves; returns it. */
  correct(sample: ServerTimeSample): number {
    this.offset = offsetFrom(sample);
    return this.offset;
  }
}
