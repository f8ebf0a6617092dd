/**
 * Child process of gateway-sse-fanout.bench.ts: holds many SSE connections and timestamps, per connection, the
 * arrival of an expected event id. Commands and results go over the IPC channel. Not a benchmark by itself.
 */
import { request, type IncomingMessage } from "node:http";
import { Agent } from "node:http";
import { now } from "./gateway-support.ts";

type Command =
  | { type: "connect"; urls: string[]; localAddress: string }
  | { type: "expect"; id: string; timeoutMs: number }
  | { type: "close" };

interface Connection {
  res: IncomingMessage | null;
  tail: string;
  live: boolean;
  receivedAt: number | null;
}

const connections: Connection[] = [];
let expectedMarker: string | null = null;
let onLive: (() => void) | null = null;
let onReceived: (() => void) | null = null;
let liveCount = 0;
let receivedCount = 0;
const agent = new Agent({ keepAlive: false, maxSockets: Infinity });


function scan(connection: Connection, chunk: string): void {
  // Keep a short tail so a marker split across two chunks is still found.
  const text = connection.tail + chunk;
  connection.tail = text.slice(-96);
  if (!connection.live && text.includes("event: live\n")) {
    connection.live = true;
    liveCount++;
    if (liveCount === connections.length) onLive?.();
  }
  if (expectedMarker !== null && connection.receivedAt === null && text.includes(expectedMarker)) {
    connection.receivedAt = now();
    receivedCount++;
    if (receivedCount === connections.length) onReceived?.();
  }
}

function open(url: string, localAddress: string): Promise<void> {
  const connection: Connection = { res: null, tail: "", live: false, receivedAt: null };
  connections.push(connection);
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, localAddress, headers: { accept: "text/event-stream" } }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`${url} answered ${res.statusCode}`));
        return;
      }
      connection.res = res;
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => scan(connection, chunk));
      res.on("error", () => {});
      resolve();
    });
    req.on("error", reject);
    req.end();
  });
}

async function connect(urls: string[], localAddress: string): Promise<void> {
  const allLive = new Promise<void>((resolve) => (onLive = resolve));
  // A few hundred connection attempts at a time: the listen backlog is finite.
  for (let i = 0; i < urls.length; i += 250) {
    await Promise.all(urls.slice(i, i + 250).map((url) => open(url, localAddress)));
  }
  if (liveCount < connections.length) await allLive;
}

function expectEvent(id: string, timeoutMs: number): Promise<number[]> {
  expectedMarker = `\nid: ${id}\n`;
  receivedCount = 0;
  for (const connection of connections) connection.receivedAt = null;
  return new Promise((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      resolve(connections.map((c) => c.receivedAt ?? Number.NaN));
    };
    const timer = setTimeout(finish, timeoutMs);
    onReceived = finish;
  });
}

process.on("message", (command: Command) => {
  void (async () => {
    switch (command.type) {
      case "connect":
        await connect(command.urls, command.localAddress);
        process.send!({ type: "connected", count: connections.length });
        break;
      case "expect":
        process.send!({ type: "received", times: await expectEvent(command.id, command.timeoutMs) });
        break;
      case "close":
        for (const connection of connections) connection.res?.destroy();
        process.send!({ type: "closed" }, () => process.exit(0));
        break;
    }
  })().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
});
process.send!({ type: "started" });
