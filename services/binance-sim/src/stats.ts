/** Why the simulator ended a WebSocket connection. */
export type CutReason = "fault" | "lifetime" | "pongTimeout" | "messageRate";

export interface SimStats {
  /** REST answers per path and HTTP status, e.g. `{"/api/v3/aggTrades": {"200": 12, "429": 1}}`. */
  requests: Record<string, Record<string, number>>;
  /** Every REST request on /api/ paths. */
  requestsTotal: number;
  /** REQUEST_WEIGHT used per client IP in the current window. */
  weightByIp: Record<string, number>;
  /** 429 and 418 answers, from the weight limiter and from injected faults alike. */
  served429: number;
  served418: number;
  /** Answers replaced by an injected `restErrorBurst`. */
  restFaultsServed: number;
  ws: {
    opened: number;
    /** Connections open right now. */
    open: number;
    /** Connections the simulator cut, by reason. */
    cut: Record<CutReason, number>;
    /** Connections the client closed. */
    closedByClient: number;
    framesSent: number;
    framesDuplicated: number;
    /** Pings sent, and pongs that echoed a ping's payload. */
    pingsSent: number;
    pongsAcknowledged: number;
    /** Trades kept off the WebSocket by the withhold faults (each counted once, however many listeners). */
    tradesWithheld: number;
    /** Their ids, oldest first (the first 10,000). */
    withheldIds: number[];
  };
}

const WITHHELD_IDS_KEPT = 10_000;

/** The counters behind `GET /_sim/stats`. */
export class SimCounters {
  private requests: Record<string, Record<string, number>> = {};
  private requestsTotal = 0;
  private served429 = 0;
  private served418 = 0;
  private restFaultsServed = 0;
  private ws = this.emptyWs();

  countRequest(path: string, status: number): void {
    const byStatus = (this.requests[path] ??= {});
    byStatus[status] = (byStatus[status] ?? 0) + 1;
    this.requestsTotal++;
    if (status === 429) this.served429++;
    if (status === 418) this.served418++;
  }

  countRestFault(): void {
    this.restFaultsServed++;
  }

  countOpened(): void {
    this.ws.opened++;
  }

  countClosed(reason: CutReason | null): void {
    if (reason) this.ws.cut[reason]++;
    else this.ws.closedByClient++;
  }

  countFrames(sent: number, duplicated: number): void {
    this.ws.framesSent += sent;
    this.ws.framesDuplicated += duplicated;
  }

  countPing(): void {
    this.ws.pingsSent++;
  }

  countPong(): void {
    this.ws.pongsAcknowledged++;
  }

  countWithheld(aggId: number): void {
    this.ws.tradesWithheld++;
    if (this.ws.withheldIds.length < WITHHELD_IDS_KEPT) this.ws.withheldIds.push(aggId);
  }

  reset(): void {
    this.requests = {};
    this.requestsTotal = 0;
    this.served429 = 0;
    this.served418 = 0;
    this.restFaultsServed = 0;
    this.ws = this.emptyWs();
  }

  snapshot(live: { weightByIp: Record<string, number>; openConnections: number }): SimStats {
    return structuredClone({
      requests: this.requests,
      requestsTotal: this.requestsTotal,
      weightByIp: live.weightByIp,
      served429: this.served429,
      served418: this.served418,
      restFaultsServed: this.restFaultsServed,
      ws: { ...this.ws, open: live.openConnections },
    });
  }

  private emptyWs(): Omit<SimStats["ws"], "open"> {
    return {
      opened: 0,
      cut: { fault: 0, lifetime: 0, pongTimeout: 0, messageRate: 0 },
      closedByClient: 0,
      framesSent: 0,
      framesDuplicated: 0,
      pingsSent: 0,
      pongsAcknowledged: 0,
      tradesWithheld: 0,
      withheldIds: [],
    };
  }
}
