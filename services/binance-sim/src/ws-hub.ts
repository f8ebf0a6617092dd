import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";
import type { Logger } from "@gapfill/kit";
import type { FaultSwitch } from "./faults.ts";
import { seededRandom, type Random } from "./random.ts";
import type { SimCounters } from "./stats.ts";
import { parseConnectPath, type MarketStream } from "./streams.ts";
import { Connection } from "./ws-connection.ts";

export interface WsHubOptions {
  symbols: ReadonlySet<string>;
  pingIntervalMs: number;
  pongTimeoutMs: number;
  lifetimeMs: number;
  maxIncomingPerSecond: number;
  faults: FaultSwitch;
  counters: SimCounters;
  seed: number;
  log: Logger;
}

/**
 * The WebSocket side of the simulator: accepts connections on the HTTP server's upgrade, keeps an index from
 * stream name to its listeners, publishes events to them and cuts connections when a drop fault says so.
 */
export class WsHub {
  private readonly server = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  private readonly connections = new Set<Connection>();
  private readonly listeners = new Map<string, Set<Connection>>();
  private readonly streams = new Map<string, MarketStream>();
  private readonly random: Random;
  private dropTimer: NodeJS.Timeout | null = null;

  private readonly options: WsHubOptions;

  constructor(options: WsHubOptions) {
    this.options = options;
    this.random = seededRandom(options.seed ^ 0x5eed);
    options.faults.onChange((faults, dropNow) => {
      if (dropNow) this.dropAll();
      this.armDropTimer(faults.wsDropEveryMs);
    });
    this.armDropTimer(options.faults.current.wsDropEveryMs);
  }

  attach(http: Server): void {
    http.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(request, socket, head));
  }

  get openConnections(): number {
    return this.connections.size;
  }

  hasListeners(stream: string): boolean {
    return (this.listeners.get(stream)?.size ?? 0) > 0;
  }

  /** Every stream at least one client listens to. */
  activeStreams(): MarketStream[] {
    return [...this.streams.values()];
  }

  publish(stream: string, json: string): void {
    const listeners = this.listeners.get(stream);
    if (listeners) for (const connection of listeners) connection.send(stream, json);
  }

  /** Cuts every connection at once, as an injected fault (no close frame). */
  dropAll(): void {
    for (const connection of this.connections) connection.cut("fault");
  }

  async close(): Promise<void> {
    if (this.dropTimer) clearInterval(this.dropTimer);
    this.dropTimer = null;
    this.dropAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private armDropTimer(everyMs: number): void {
    if (this.dropTimer) clearInterval(this.dropTimer);
    this.dropTimer = everyMs > 0 ? setInterval(() => this.dropAll(), everyMs) : null;
  }

  private upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on("error", () => socket.destroy());
    const route = parseConnectPath(new URL(request.url ?? "/", "http://sim"), this.options.symbols);
    if ("status" in route) {
      const body = JSON.stringify({ error: { code: route.status === 404 ? "not_found" : "bad_request", message: route.message } });
      socket.end(
        `HTTP/1.1 ${route.status} ${route.status === 404 ? "Not Found" : "Bad Request"}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
      return;
    }
    this.server.handleUpgrade(request, socket, head, (ws) => {
      const { options } = this;
      const connection = new Connection({
        socket: ws,
        combined: route.combined,
        streams: route.streams,
        symbols: options.symbols,
        pingIntervalMs: options.pingIntervalMs,
        pongTimeoutMs: options.pongTimeoutMs,
        lifetimeMs: options.lifetimeMs,
        maxIncomingPerSecond: options.maxIncomingPerSecond,
        faults: options.faults,
        counters: options.counters,
        random: seededRandom(Math.floor(this.random.uniform() * 2 ** 31)),
        onStreamsChanged: (changed, added, removed) => this.index(changed, added, removed),
        onClosed: (closed) => this.forget(closed),
      });
      this.connections.add(connection);
      options.counters.countOpened();
      this.index(connection, route.streams, []);
      options.log.debug({ path: request.url, streams: route.streams.map((s) => s.name) }, "WebSocket client connected");
    });
  }

  private index(connection: Connection, added: MarketStream[], removed: string[]): void {
    for (const stream of added) {
      let set = this.listeners.get(stream.name);
      if (!set) {
        set = new Set();
        this.listeners.set(stream.name, set);
        this.streams.set(stream.name, stream);
      }
      set.add(connection);
    }
    for (const name of removed) this.unlisten(name, connection);
  }

  private forget(connection: Connection): void {
    this.connections.delete(connection);
    for (const name of connection.streams.keys()) this.unlisten(name, connection);
  }

  private unlisten(name: string, connection: Connection): void {
    const set = this.listeners.get(name);
    if (!set) return;
    set.delete(connection);
    if (set.size === 0) {
      this.listeners.delete(name);
      this.streams.delete(name);
    }
  }
}
