/**
 * The live aggTrade WebSocket: one combined-stream connection for every symbol. It answers pings with pongs
 * carrying the same payload (at most 4 a second, so what we send stays under Binance's 5 messages/s),
 * reconnects with jittered exponential backoff, reconnects silently-dead connections, and replaces a connection
 * before the server's 24 h cut by opening the next one first (the overlap is de-duplicated by id downstream).
 * It hands raw text frames to `onFrame`; parsing lives in wire.ts.
 */
import WebSocket from "ws";
import { backoffDelayMs, OutageLog, type Logger } from "@gapfill/kit";
import { aggTradeStreamName } from "./wire.ts";

export interface TradeSocketOptions {
  /** Base URL, e.g. wss://data-stream.binance.vision. */
  baseUrl: string;
  symbols: readonly string[];
  log: Logger;
  onFrame: (raw: string) => void;
  /** A connection opened; `reconnect` is false only for the very first one. */
  onOpen?: (info: { reconnect: boolean }) => void;
  /** Replace a connection this long after it opened; Binance cuts at 24 h (default 23 h 50 min). */
  maxConnectionMs?: number;
  /** A connection that has sent nothing (not even a ping) for this long is presumed dead (default 60 s). */
  staleAfterMs?: number;
  /**
   * Least time between two pongs (default 280 ms: at most 4 in any second as the server counts them, with room
   * for the jitter between our timers and its reads that 250 ms would not leave).
   */
  minPongIntervalMs?: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** Aborting it closes every connection and stops reconnecting; `closed` then resolves. */
  signal: AbortSignal;
}

const REPLACEMENT_RETRY_MS = 30_000;

function combinedStreamUrl(baseUrl: string, symbols: readonly string[]): string {
  return `${baseUrl.replace(/\/+$/, "")}/stream?streams=${symbols.map(aggTradeStreamName).join("/")}`;
}

export class TradeSocket {
  private active: WebSocket | null = null;
  private replacing: WebSocket | null = null;
  private everOpened = false;
  private failures = 0;
  private downSince: number | null = Date.now();
  private lastHeardAt = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private rotateTimer: NodeJS.Timeout | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private lastPongAt = 0;
  private pongTimer: NodeJS.Timeout | null = null;
  private pendingPong: { socket: WebSocket; payload: Buffer } | null = null;
  private readonly url: string;
  /** Connections that fail (no route, refused, TLS, an HTTP refusal of the upgrade): logged once per state change. */
  private readonly outage: OutageLog;
  /** Resolves once the signal was aborted and every connection is closed. */
  readonly closed: Promise<void>;

  private readonly options: TradeSocketOptions;

  constructor(options: TradeSocketOptions) {
    this.options = options;
    this.url = combinedStreamUrl(options.baseUrl, options.symbols);
    this.outage = new OutageLog(options.log, { what: "Binance WebSocket", target: new URL(this.url).host });
    this.closed = new Promise((resolve) =>
      options.signal.addEventListener("abort", () => void this.closeAll().then(resolve), { once: true }),
    );
  }

  private get stopped(): boolean {
    return this.options.signal.aborted;
  }

  /** Wall-clock ms since the stream went down, or 0 while a connection is open. */
  downForMs(now = Date.now()): number {
    return this.downSince === null ? 0 : now - this.downSince;
  }

  start(): void {
    if (this.stopped) return;
    this.connect();
    const staleAfterMs = this.options.staleAfterMs ?? 60_000;
    this.watchdog = setInterval(() => {
      if (this.active && Date.now() - this.lastHeardAt > staleAfterMs) {
        this.options.log.warn({ silentForMs: Date.now() - this.lastHeardAt }, "WebSocket silent: reconnecting");
        this.active.terminate();
      }
    }, Math.min(5000, staleAfterMs));
  }

  private async closeAll(): Promise<void> {
    for (const timer of [this.reconnectTimer, this.rotateTimer, this.pongTimer]) if (timer) clearTimeout(timer);
    if (this.watchdog) clearInterval(this.watchdog);
    const sockets = [this.active, this.replacing].filter((s): s is WebSocket => s !== null);
    this.active = null;
    this.replacing = null;
    await Promise.all(sockets.map((socket) => closeSocket(socket)));
  }

  private connect(): void {
    if (this.stopped) return;
    const { log } = this.options;
    const socket = new WebSocket(this.url, { autoPong: false, handshakeTimeout: 10_000, perMessageDeflate: false });
    let delivered = false;
    if (this.active) this.replacing = socket;

    socket.on("open", () => {
      if (this.stopped) return void socket.terminate();
      const previous = this.active;
      const reconnect = this.everOpened;
      this.everOpened = true;
      this.active = socket;
      this.replacing = null;
      this.downSince = null;
      this.lastHeardAt = Date.now();
      this.outage.succeeded();
      this.scheduleRotation();
      if (previous) {
        log.info("WebSocket replaced ahead of the server's connection lifetime");
        void closeSocket(previous);
      } else {
        log.info({ url: this.url, reconnect }, reconnect ? "WebSocket reconnected" : "WebSocket connected");
      }
      this.options.onOpen?.({ reconnect });
    });
    socket.on("message", (data: WebSocket.RawData, isBinary: boolean) => {
      this.lastHeardAt = Date.now();
      if (!delivered) {
        delivered = true;
        // A connection that carries data proves the endpoint works: the next drop reconnects at once.
        this.failures = 0;
      }
      if (!isBinary) this.options.onFrame(data.toString());
    });
    socket.on("ping", (payload: Buffer) => {
      this.lastHeardAt = Date.now();
      this.answerPing(socket, payload);
    });
    socket.on("error", (error: Error) => this.outage.failed(error));
    socket.on("close", (code: number) => {
      if (socket === this.replacing) {
        // The replacement failed to open: keep the current connection and try again a little later.
        this.replacing = null;
        if (this.active && !this.stopped) this.scheduleRotation(REPLACEMENT_RETRY_MS);
      }
      if (socket !== this.active) {
        if (!this.active && !this.stopped) this.scheduleReconnect(code);
        return;
      }
      this.active = null;
      this.downSince = Date.now();
      if (this.rotateTimer) clearTimeout(this.rotateTimer);
      log.warn({ code }, "WebSocket closed");
      if (!this.stopped) this.scheduleReconnect(code);
    });
  }

  private scheduleReconnect(code: number): void {
    if (this.reconnectTimer) return;
    this.failures++;
    const delay = backoffDelayMs(this.failures, { initialMs: this.options.backoffMinMs ?? 100, maxMs: this.options.backoffMaxMs ?? 30_000 });
    // Every attempt of an outage would say the same: the outage log has said why, once.
    this.options.log[this.outage.down ? "debug" : "info"]({ code, attempt: this.failures, delayMs: delay }, "WebSocket reconnecting");
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  private scheduleRotation(afterMs = this.options.maxConnectionMs ?? (23 * 60 + 50) * 60_000): void {
    if (this.rotateTimer) clearTimeout(this.rotateTimer);
    this.rotateTimer = setTimeout(() => {
      this.rotateTimer = null;
      if (!this.stopped && this.active && !this.replacing) this.connect();
    }, afterMs);
  }

  /**
   * Pongs carry the ping's payload. A server pinging faster than we may send gets, once the interval allows, one
   * pong with the newest payload, which answers the earlier pings too.
   */
  private answerPing(socket: WebSocket, payload: Buffer): void {
    const minIntervalMs = this.options.minPongIntervalMs ?? 280;
    const send = (target: WebSocket, data: Buffer) => {
      this.lastPongAt = Date.now();
      if (target.readyState === WebSocket.OPEN) target.pong(data);
    };
    const waitMs = this.lastPongAt + minIntervalMs - Date.now();
    if (waitMs <= 0 && !this.pongTimer) return send(socket, payload);
    this.pendingPong = { socket, payload };
    this.pongTimer ??= setTimeout(() => {
      this.pongTimer = null;
      const pending = this.pendingPong;
      this.pendingPong = null;
      if (pending && !this.stopped) send(pending.socket, pending.payload);
    }, Math.max(0, waitMs));
  }
}

function closeSocket(socket: WebSocket): Promise<void> {
  if (socket.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.terminate();
      resolve();
    }, 2000);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
    if (socket.readyState === WebSocket.CONNECTING) socket.terminate();
    else socket.close(1000);
  });
}
