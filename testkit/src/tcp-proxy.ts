import { createServer, connect, type Socket } from "node:net";
import type { AddressInfo } from "node:net";

export interface TcpProxy {
  /** Port on 127.0.0.1 that forwards to the target. */
  port: number;
  /** Cuts every open connection and resets new ones until restore(): the target looks down. */
  sever(): void;
  /** Stops forwarding on every connection, open and new, without closing any: the target looks hung. */
  stall(): void;
  /** Back to forwarding; connections that were stalled are closed, since bytes were dropped on them. */
  restore(): void;
  readonly severed: boolean;
  /** Connections accepted and forwarded so far. */
  readonly connections: number;
  /** Local ports of the open connections to the target: what the target sees as its clients' ports. */
  upstreamPorts(): number[];
  close(): Promise<void>;
}

/**
 * A loopback TCP proxy a test can cut and restore, to take a server (PostgreSQL, say) away from the code under
 * test and give it back, while the test itself keeps talking to the server directly.
 */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<Socket>();
  const upstreams = new Set<Socket>();
  const stalled = new Set<Socket>();
  let severed = false;
  let stalling = false;
  let connections = 0;
  const server = createServer((client) => {
    if (severed) {
      client.resetAndDestroy();
      return;
    }
    if (stalling) {
      stalled.add(client);
      client.on("error", () => client.destroy());
      client.resume();
      return;
    }
    connections++;
    const upstream = connect(target);
    upstreams.add(upstream);
    upstream.once("close", () => upstreams.delete(upstream));
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.once("close", () => open.delete(socket));
      socket.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    sever() {
      severed = true;
      for (const socket of open) socket.resetAndDestroy();
    },
    stall() {
      stalling = true;
      for (const socket of open) {
        socket.unpipe();
        socket.resume();
        stalled.add(socket);
      }
    },
    restore() {
      severed = false;
      stalling = false;
      for (const socket of stalled) socket.destroy();
      stalled.clear();
    },
    get severed() {
      return severed;
    },
    get connections() {
      return connections;
    },
    upstreamPorts: () => [...upstreams].map((socket) => socket.localPort).filter((port): port is number => port !== undefined),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of [...open, ...stalled]) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
