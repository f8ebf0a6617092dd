/**
 * Child process of gateway-sse-fanout.bench.ts: the floors. A bare node:http server that
 * - holds SSE responses and, when told, writes one event string to all of them (the least any server must do
 *   to fan an event out);
 * - with FLOOR_NATS_NAMESPACE set, answers POST /session/start with only the two I/O calls a session start needs
 *   (the store's seam read, as the gateway makes it, and a KV create) and no auth, validation or framework;
 * - answers GET /page/<coding> with bytes it was given (a cached bootstrap page: the least a server must do to send
 *   it).
 */
import { randomBytes } from "node:crypto";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Kvm, type KV } from "@nats-io/kv";
import { natsNames } from "@gapfill/contracts";
import { createLogger, openPostgresStore, type BarStore } from "@gapfill/kit";
import { connectTestNats, TEST_DATABASE_URL } from "@gapfill/testkit";
import { readSeam } from "../services/gateway/src/seam.ts";
import { now } from "./gateway-support.ts";

const responses = new Set<ServerResponse>();
const namespace = process.env.FLOOR_NATS_NAMESPACE;
let kv: KV | null = null;
let store: BarStore | null = null;
if (namespace) {
  const nc = await connectTestNats();
  kv = await new Kvm(nc).open(natsNames(namespace).buckets.sessions);
  store = await openPostgresStore({
    url: TEST_DATABASE_URL,
    prepare: true,
    schema: namespace,
    log: createLogger({ service: "floor", level: "warn" }),
  });
}

/** Bodies and headers by content coding, from a { type: "pages" } command. */
const pages = new Map<string, { body: Buffer; headers: Record<string, string> }>();

const server = createServer((req, res) => {
  const page = req.url?.startsWith("/page/") ? pages.get(req.url.slice("/page/".length)) : undefined;
  if (page) {
    res.writeHead(200, { ...page.headers, "content-length": page.body.length }).end(page.body);
    return;
  }
  if (req.method === "POST" && kv && store) {
    req.resume();
    void (async () => {
      const lastTs = await readSeam(store, "BTCUSDT");
      const id = randomBytes(24).toString("base64url");
      await kv.create(id, JSON.stringify({ session_id: id, supabase_last_ts: lastTs }));
      res.writeHead(201, { "content-type": "application/json" }).end(JSON.stringify({ session_id: id, supabase_last_ts: lastTs }));
    })();
    return;
  }
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  res.write("retry: 3000\n\nevent: live\ndata: {}\n\n");
  responses.add(res);
  res.on("close", () => responses.delete(res));
});
server.listen(0, "127.0.0.1", () => {
  process.send!({ type: "listening", port: (server.address() as AddressInfo).port });
});

type Command =
  | { type: "broadcast"; event: string }
  | { type: "pages"; pages: { coding: string; body: string; headers: Record<string, string> }[] }
  | { type: "stop" };

process.on("message", (command: Command) => {
  if (command.type === "pages") {
    for (const page of command.pages) pages.set(page.coding, { body: Buffer.from(page.body, "base64"), headers: page.headers });
    process.send!({ type: "pages-ready" });
  } else if (command.type === "broadcast") {
    const t0 = now();
    for (const res of responses) res.write(command.event);
    process.send!({ type: "sent", t0 });
  } else {
    for (const res of responses) res.destroy();
    server.close(() => process.exit(0));
  }
});
