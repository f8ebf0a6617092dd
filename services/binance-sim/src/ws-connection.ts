import type { WebSocket } from "ws";
import type { FaultSwitch } from "./faults.ts";
import { FramePipeline } from "./frame-pipeline.ts";
import type { Random } from "./random.ts";
import type { CutReason, SimCounters } from "./stats.ts";
import { MAX_STREAMS_PER_CONNECTION, parseStreamName, type MarketStream } from "./streams.ts";

export interface ConnectionOptions {
  socket: WebSocket;
  combined: boolean;
  streams: MarketStream[];
  symbols: ReadonlySet<string>;
  pingIntervalMs: number;
  pongTimeoutMs: number;
  lifetimeMs: number;
  maxIncomingPerSecond: number;
  faults: FaultSwitch;
  counters: SimCounters;
  random: Random;
  /** Called when the connection's stream set changes, so the hub can index subscribers. */
  onStreamsChanged: (connection: Connection, added: MarketStream[], removed: string[]) => void;
  onClosed: (connection: Connection) => void;
}

const METHODS = ["SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY"];

/**
 * One client of the market streams, behaving as Binance documents: a ping every 20 s whose payload the pong must
 * echo within a minute, a cut after the connection lifetime, at most 5 incoming messages a second, and the
 * SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS / SET_PROPERTY / GET_PROPERTY requests.
 */
export class Connection {
  readonly streams = new Map<string, MarketStream>();
  private combined: boolean;
  private readonly socket: WebSocket;
  private readonly pipeline: FramePipeline;
  private readonly pendingPings = new Map<string, NodeJS.Timeout>();
  private readonly incoming: number[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private pingCount = 0;
  private cutReason: CutReason | null = null;
  private closed = false;

  private readonly options: ConnectionOptions;

  constructor(options: ConnectionOptions) {
    this.options = options;
    const { socket, counters } = options;
    this.socket = socket;
    this.combined = options.combined;
    this.pipeline = new FramePipeline(
      (frame) => {
        if (socket.readyState === socket.OPEN) {
          socket.send(frame);
          counters.countFrames(1, 0);
        }
      },
      options.faults,
      options.random,
      () => counters.countFrames(0, 1),
    );
    for (const stream of options.streams) this.streams.set(stream.name, stream);
    socket.on("message", (data, isBinary) => {
      if (this.countIncoming()) this.handleRequest(isBinary ? null : data.toString());
    });
    socket.on("ping", () => this.countIncoming());
    socket.on("pong", (payload) => {
      if (this.countIncoming()) this.acknowledgePong(payload.toString());
    });
    // A protocol error from the client (bad frame, oversized message) ends only this connection.
    socket.on("error", () => socket.terminate());
    socket.on("close", () => this.closedEvent());
    this.timers.push(setInterval(() => this.ping(), options.pingIntervalMs));
    this.timers.push(setTimeout(() => this.cut("lifetime"), options.lifetimeMs));
  }

  /** Queues one event of `stream` for this client (wrapped when the connection is combined). */
  send(stream: string, json: string): void {
    this.pipeline.push(this.combined ? `{"stream":"${stream}","data":${json}}` : json);
  }

  /**
   * Ends the connection: an injected fault drops the TCP connection without a close frame; the lifetime, a
   * missing pong and a flooding client get a close frame (and a hard cut if the close handshake stalls).
   */
  cut(reason: CutReason): void {
    if (this.closed || this.cutReason) return;
    this.cutReason = reason;
    if (reason === "fault") {
      this.socket.terminate();
      return;
    }
    const code = reason === "lifetime" ? 1000 : 1008;
    const text = { lifetime: "connection lifetime reached", pongTimeout: "no pong within the timeout", messageRate: "too many incoming messages" }[reason];
    this.socket.close(code, text);
    setTimeout(() => this.socket.terminate(), 1000).unref();
  }

  private ping(): void {
    const payload = `${Date.now()}-${++this.pingCount}`;
    this.socket.ping(payload);
    this.options.counters.countPing();
    this.pendingPings.set(
      payload,
      setTimeout(() => this.cut("pongTimeout"), this.options.pongTimeoutMs),
    );
  }

  /** Only a pong that echoes a ping's payload counts; it also answers every earlier ping. */
  private acknowledgePong(payload: string): void {
    if (!this.pendingPings.has(payload)) return;
    this.options.counters.countPong();
    for (const [sent, timer] of this.pendingPings) {
      clearTimeout(timer);
      this.pendingPings.delete(sent);
      if (sent === payload) break;
    }
  }

  /** Records an incoming message; false (and the connection cut) when the client exceeds the rate. */
  private countIncoming(): boolean {
    const now = Date.now();
    this.incoming.push(now);
    while (this.incoming.length > 0 && this.incoming[0]! <= now - 1000) this.incoming.shift();
    if (this.incoming.length <= this.options.maxIncomingPerSecond) return true;
    this.cut("messageRate");
    return false;
  }

  private handleRequest(text: string | null): void {
    let request: unknown;
    try {
      request = text === null ? undefined : JSON.parse(text);
    } catch (error) {
      this.reply({ code: 3, msg: `Invalid JSON: ${(error as Error).message}` });
      return;
    }
    if (typeof request !== "object" || request === null || Array.isArray(request)) {
      this.reply({ code: 3, msg: "Invalid JSON: expected an object like {\"method\":\"SUBSCRIBE\",\"params\":[…],\"id\":1}" });
      return;
    }
    const { method, params, id } = request as { method?: unknown; params?: unknown; id?: unknown };
    if (!(id === undefined || id === null || (typeof id === "number" && Number.isSafeInteger(id) && id >= 0) || (typeof id === "string" && id.length <= 64))) {
      this.reply({ code: 2, msg: "Invalid request: request ID must be an unsigned integer or a string of at most 64 characters" });
      return;
    }
    const replyId = id ?? null;
    if (typeof method !== "string" || !METHODS.includes(method)) {
      this.reply({ code: 2, msg: `Invalid request: unknown method ${JSON.stringify(method)}, expected one of ${METHODS.join(", ")}`, id: replyId });
      return;
    }
    const list = params === undefined ? [] : params;
    if (!Array.isArray(list) || list.some((param) => typeof param !== "string" && typeof param !== "boolean")) {
      this.reply({ code: 1, msg: "Invalid value type: params must be an array of strings", id: replyId });
      return;
    }
    switch (method) {
      case "SUBSCRIBE":
      case "UNSUBSCRIBE":
        this.changeSubscriptions(method, list as string[], replyId);
        return;
      case "LIST_SUBSCRIPTIONS":
        this.reply({ result: [...this.streams.keys()], id: replyId });
        return;
      case "SET_PROPERTY":
        if (list[0] !== "combined" || typeof list[1] !== "boolean") {
          this.reply({ code: 2, msg: "Invalid request: SET_PROPERTY takes [\"combined\", true|false]", id: replyId });
          return;
        }
        this.combined = list[1];
        this.reply({ result: null, id: replyId });
        return;
      case "GET_PROPERTY":
        if (list[0] !== "combined") {
          this.reply({ code: 0, msg: "Unknown property", id: replyId });
          return;
        }
        this.reply({ result: this.combined, id: replyId });
        return;
    }
  }

  private changeSubscriptions(method: "SUBSCRIBE" | "UNSUBSCRIBE", names: string[], id: unknown): void {
    const streams: MarketStream[] = [];
    for (const name of names) {
      const stream = parseStreamName(name, this.options.symbols);
      if (typeof stream === "string") {
        this.reply({ code: 2, msg: `Invalid request: ${stream}`, id });
        return;
      }
      streams.push(stream);
    }
    if (method === "SUBSCRIBE") {
      const added = streams.filter((stream) => !this.streams.has(stream.name));
      if (this.streams.size + added.length > MAX_STREAMS_PER_CONNECTION) {
        this.reply({ code: 2, msg: `Invalid request: at most ${MAX_STREAMS_PER_CONNECTION} streams per connection`, id });
        return;
      }
      for (const stream of added) this.streams.set(stream.name, stream);
      this.options.onStreamsChanged(this, added, []);
    } else {
      const removed = streams.map((stream) => stream.name).filter((name) => this.streams.delete(name));
      this.options.onStreamsChanged(this, [], removed);
    }
    this.reply({ result: null, id });
  }

  private reply(message: object): void {
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(JSON.stringify(message));
  }

  private closedEvent(): void {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    for (const timer of this.pendingPings.values()) clearTimeout(timer);
    this.pipeline.close();
    this.options.counters.countClosed(this.cutReason);
    this.options.onClosed(this);
  }
}
