import type { Server } from "node:http";
import { BlockList, isIPv6, type Socket } from "node:net";
import { errorBody, RETRY_AFTER_SECONDS } from "./errors.ts";

export interface ConnectionLimits {
  /** Open connections the server holds at most. */
  maxConnections: number;
  /** Open connections one client address holds at most, unless it is exempt. */
  maxPerAddress: number;
  /** Addresses or CIDR ranges without a per-address limit: reverse proxies, which carry many clients. */
  exempt?: readonly string[];
  /** Told of every connection refused, and why. */
  onRefused?: (reason: ConnectionRefusal) => void;
}

export type ConnectionRefusal = "server_full" | "address_full";

/** A refused connection's whole answer: one small response, then the connection closes. */
function refusal(status: string, code: string, message: string): string {
  const body = JSON.stringify(errorBody(code, message));
  return (
    `HTTP/1.1 ${status}\r\ncontent-type: application/json\r\nretry-after: ${RETRY_AFTER_SECONDS}\r\n` +
    `connection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

const REFUSALS: Record<ConnectionRefusal, string> = {
  server_full: refusal("503 Service Unavailable", "server_full", "this server holds as many connections as it may; try again shortly"),
  address_full: refusal("429 Too Many Requests", "too_many_connections", "too many open connections from this address; close one first"),
};

/** How long a refused connection may take to read its answer before it is cut. */
const REFUSED_LINGER_MS = 2_000;

/** An IPv4 client of a dual-stack socket appears as ::ffff:a.b.c.d; it is the same address as a.b.c.d. */
export function clientAddress(socket: Socket): string | undefined {
  const address = socket.remoteAddress;
  return address?.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}

function exemptList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = "", prefix] = entry.split("/");
    const type = isIPv6(address) ? "ipv6" : "ipv4";
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
  }
  return list;
}

/**
 * Caps the connections an HTTP server holds, in all and per client address. A connection over a cap is answered
 * (503 server_full, 429 too_many_connections, with Retry-After) and closed without a byte of it being read.
 *
 * Node's HTTP server starts reading a connection in its own 'connection' listener (in C++, past any pause), so a
 * request the connection already carries would be served if that listener ran: the server's listeners are run here,
 * for admitted connections only. Returns the number of open connections, for metrics.
 */
export function limitConnections(server: Server, limits: ConnectionLimits): { open: () => number } {
  const exempt = exemptList(limits.exempt ?? []);
  const isExempt = (address: string) => exempt.check(address, isIPv6(address) ? "ipv6" : "ipv4");
  const perAddress = new Map<string, number>();
  let open = 0;
  const httpListeners = server.listeners("connection") as ((socket: Socket) => void)[];
  server.removeAllListeners("connection");

  const refuse = (socket: Socket, reason: ConnectionRefusal) => {
    limits.onRefused?.(reason);
    socket.on("error", () => {});
    // Whatever the client sends is read and dropped, so closing sends FIN, not a reset that could discard the answer.
    socket.resume();
    socket.end(REFUSALS[reason]);
    setTimeout(() => socket.destroy(), REFUSED_LINGER_MS).unref();
  };

  server.on("connection", (socket: Socket) => {
    const address = clientAddress(socket);
    if (address === undefined) return void socket.destroy();
    if (open >= limits.maxConnections) return refuse(socket, "server_full");
    const counted = !isExempt(address);
    const held = perAddress.get(address) ?? 0;
    if (counted && held >= limits.maxPerAddress) return refuse(socket, "address_full");
    open++;
    if (counted) perAddress.set(address, held + 1);
    socket.once("close", () => {
      open--;
      if (!counted) return;
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left === 0) perAddress.delete(address);
      else perAddress.set(address, left);
    });
    for (const listener of httpListeners) listener.call(server, socket);
  });
  return { open: () => open };
}
