export interface WeightLimiterOptions {
  /** REQUEST_WEIGHT per window (Binance: 6000 per minute). */
  limit: number;
  /** Window length; windows start at wall-clock multiples of it, as Binance's counter resets each minute. */
  windowMs: number;
  /** 429 answers a client may collect in one window before it is banned (418). */
  banAfterRejections: number;
  /** First ban; each further ban of the same IP doubles it, up to `banMaxMs` (Binance: 2 minutes to 3 days). */
  banBaseMs: number;
  banMaxMs: number;
  wallNow?: () => number;
}

export type Admission =
  | { kind: "ok"; usedWeight: number }
  | { kind: "limited"; usedWeight: number; retryAfterSeconds: number }
  | { kind: "banned"; usedWeight: number; retryAfterSeconds: number; bannedUntil: number };

interface ClientState {
  windowStart: number;
  usedWeight: number;
  rejections: number;
  bannedUntil: number;
  bans: number;
}

/**
 * Binance's IP limits: every request adds its weight to the IP's count for the current window (reported in
 * `X-MBX-USED-WEIGHT-1M`); past the limit the answer is 429 with the seconds to the window's end; a client that
 * keeps sending after 429s is banned with 418 for an escalating time.
 */
export class WeightLimiter {
  private readonly clients = new Map<string, ClientState>();
  private readonly wallNow: () => number;

  private readonly options: WeightLimiterOptions;

  constructor(options: WeightLimiterOptions) {
    this.options = options;
    this.wallNow = options.wallNow ?? Date.now;
  }

  get limit(): number {
    return this.options.limit;
  }

  admit(ip: string, weight: number): Admission {
    const now = this.wallNow();
    const client = this.current(ip, now);
    if (client.bannedUntil > now) {
      return { kind: "banned", usedWeight: client.usedWeight, retryAfterSeconds: secondsUntil(client.bannedUntil, now), bannedUntil: client.bannedUntil };
    }
    client.usedWeight += weight;
    if (client.usedWeight <= this.options.limit) return { kind: "ok", usedWeight: client.usedWeight };
    client.rejections++;
    if (client.rejections > this.options.banAfterRejections) {
      // After the ban the client gets the same number of 429s again before the next, longer, ban.
      client.rejections = 0;
      client.bans++;
      const banMs = Math.min(this.options.banMaxMs, this.options.banBaseMs * 2 ** (client.bans - 1));
      client.bannedUntil = now + banMs;
      return { kind: "banned", usedWeight: client.usedWeight, retryAfterSeconds: secondsUntil(client.bannedUntil, now), bannedUntil: client.bannedUntil };
    }
    return { kind: "limited", usedWeight: client.usedWeight, retryAfterSeconds: secondsUntil(client.windowStart + this.options.windowMs, now) };
  }

  /** Weight used by the IP in the current window (0 for an unknown IP). */
  usedWeight(ip: string): number {
    return this.clients.has(ip) ? this.current(ip, this.wallNow()).usedWeight : 0;
  }

  /** Used weight of every IP seen in the current window. */
  usedWeights(): Record<string, number> {
    const now = this.wallNow();
    const used: Record<string, number> = {};
    for (const ip of this.clients.keys()) {
      const weight = this.current(ip, now).usedWeight;
      if (weight > 0) used[ip] = weight;
    }
    return used;
  }

  private current(ip: string, now: number): ClientState {
    const windowStart = Math.floor(now / this.options.windowMs) * this.options.windowMs;
    let client = this.clients.get(ip);
    if (!client) {
      client = { windowStart, usedWeight: 0, rejections: 0, bannedUntil: 0, bans: 0 };
      this.clients.set(ip, client);
    } else if (client.windowStart !== windowStart) {
      client.windowStart = windowStart;
      client.usedWeight = 0;
      client.rejections = 0;
    }
    return client;
  }
}

function secondsUntil(until: number, now: number): number {
  return Math.max(1, Math.ceil((until - now) / 1000));
}
