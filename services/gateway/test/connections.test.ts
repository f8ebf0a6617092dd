import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RawSseClient, waitFor } from "@gapfill/testkit";
import { createGatewayTestEnv, startGateway, type GatewayTestEnv, type RunningGateway } from "./support/env.ts";
import { metricValue } from "./support/metrics.ts";
import { LOCAL_SECRET, localToken, startSession } from "./support/session.ts";

/** A raw TCP client: what it sent is up to the test, what came back and whether the server closed are recorded. */
interface RawClient {
  socket: Socket;
  received: () => string;
  closed: () => boolean;
}

function rawClient(url: string, send = ""): Promise<RawClient> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    let received = "";
    let closed = false;
    const socket = connect(Number(port), hostname, () => {
      if (send) socket.write(send);
      resolve({ socket, received: () => received, closed: () => closed });
    });
    socket.on("data", (chunk) => (received += chunk.toString()));
    socket.on("close", () => (closed = true));
    socket.on("error", reject);
  });
}

let env: GatewayTestEnv;
const gateways: RunningGateway[] = [];

async function gateway(extra: Record<string, string>, tuning = {}): Promise<RunningGateway> {
  const gw = await startGateway(env, { config: env.config({ LOCAL_JWT_SECRET: LOCAL_SECRET, ...extra }), listen: true, tuning });
  gateways.push(gw);
  return gw;
}

beforeAll(async () => {
  env = await createGatewayTestEnv();
});

afterAll(async () => {
  for (const gw of gateways) await gw.close();
  await env?.cleanup();
});

describe("slow requests", () => {
  it("answers 408 and closes a connection whose body never arrives, or whose headers never end, within REQUEST_TIMEOUT_SECONDS", async () => {
    const gw = await gateway({ REQUEST_TIMEOUT_SECONDS: "1" });
    const clients = await Promise.all([
      // The report's case: headers, then a Content-Length: 100 body that never comes, on a public path.
      rawClient(gw.url, "POST /healthz HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"),
      rawClient(gw.url, "POST /nowhere HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n"),
      rawClient(gw.url, "GET /healthz HTTP/1.1\r\nHost: a\r\n"),
      rawClient(gw.url),
    ]);
    // The bound: the timeout, Node's check interval (1 s) and slack for a busy machine.
    await waitFor(() => clients.every((client) => client.closed()), { timeoutMs: 6_000, what: "every slow connection closed" });
    // An unknown path is answered 404 at once, without waiting for the body; the connection still goes.
    expect(clients.map((client) => client.received().slice(0, 12))).toEqual(["HTTP/1.1 408", "HTTP/1.1 404", "HTTP/1.1 408", "HTTP/1.1 408"]);
  });

  it("does not cut a gap stream, which sends no body and lives far longer than the request timeout", async () => {
    const gw = await gateway({ REQUEST_TIMEOUT_SECONDS: "1" }, { heartbeatMs: 300 });
    const session = await startSession(gw.url, await localToken("patient"));
    const client = await RawSseClient.open(session.stream_url);
    try {
      expect(client.status).toBe(200);
      // Ten heartbeats take three seconds: three request timeouts and checks have passed meanwhile.
      await waitFor(() => client.comments >= 10 || client.closed, { timeoutMs: 10_000, what: "ten heartbeats" });
      expect(client.closed).toBe(false);
    } finally {
      client.close();
    }
  });
});

describe("connection caps", () => {
  const idle = (gw: RunningGateway) => rawClient(gw.url);

  it("answers a connection over MAX_CONNECTIONS_PER_IP with 429 and closes it without serving its request", async () => {
    const gw = await gateway({ MAX_CONNECTIONS_PER_IP: "3", REQUEST_TIMEOUT_SECONDS: "30" });
    const held = await Promise.all([idle(gw), idle(gw), idle(gw)]);
    const token = await localToken("crowded");
    const body = "{}";
    const refused = await rawClient(
      gw.url,
      `POST /session/start HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${body.length}\r\n\r\n${body}`,
    );
    await waitFor(() => refused.closed(), { what: "the refused connection closed" });
    expect(refused.received()).toMatch(/^HTTP\/1\.1 429 Too Many Requests\r\n/);
    expect(refused.received()).toMatch(/\r\nretry-after: 5\r\n/);
    expect(refused.received()).toContain('"code":"too_many_connections"');
    expect(await metricValue(gw, "gateway_sessions_started_total")).toBe(0);
    expect(await metricValue(gw, "gateway_connections_refused_total", { reason: "address_full" })).toBe(1);
    // One closes: the next is served.
    held[0]!.socket.destroy();
    await waitFor(async () => (await fetch(`${gw.url}/healthz`)).ok, { what: "a connection accepted again" });
    for (const client of held) client.socket.destroy();
  });

  it("caps a process at MAX_CONNECTIONS with 503 server_full", async () => {
    const gw = await gateway({ MAX_CONNECTIONS: "2", REQUEST_TIMEOUT_SECONDS: "30" });
    const held = await Promise.all([idle(gw), idle(gw)]);
    const refused = await rawClient(gw.url, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
    await waitFor(() => refused.closed(), { what: "the refused connection closed" });
    expect(refused.received()).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n[^]*"code":"server_full"/);
    for (const client of held) client.socket.destroy();
  });

  it("behind a trusted proxy, caps the gap streams of each client it names", async () => {
    const gw = await gateway({ MAX_CONNECTIONS_PER_IP: "2", TRUST_PROXY: "127.0.0.1" });
    let opened = 0;
    const open = async (client: string) => {
      // A user (and session) per stream: the per-session cap is not what is tested.
      const session = await startSession(gw.url, await localToken(`behind-${client}-${opened++}`));
      return RawSseClient.open(session.stream_url, { "x-forwarded-for": client });
    };
    const streams = [await open("192.0.2.5"), await open("192.0.2.5")];
    try {
      const third = await open("192.0.2.5");
      expect(third.status).toBe(429);
      await waitFor(() => third.closed, { what: "the refused stream's answer" });
      expect(JSON.parse(third.body)).toMatchObject({ error: { code: "too_many_connections" } });
      const other = await open("192.0.2.6");
      streams.push(other);
      expect(other.status).toBe(200);
      streams[0]!.close();
      await waitFor(async () => {
        const again = await open("192.0.2.5");
        streams.push(again);
        return again.status === 200;
      }, { what: "a stream accepted again once one closed" });
    } finally {
      for (const stream of streams) stream.close();
    }
  });

  it("exempts TRUST_PROXY addresses (a reverse proxy carries many clients) from the per-address cap", async () => {
    const gw = await gateway({ MAX_CONNECTIONS_PER_IP: "6", TRUST_PROXY: "127.0.0.1", REQUEST_TIMEOUT_SECONDS: "30" });
    const held = await Promise.all(Array.from({ length: 8 }, () => idle(gw)));
    const served = await fetch(`${gw.url}/healthz`);
    expect(served.status).toBe(200);
    expect(await metricValue(gw, "gateway_connections_refused_total")).toBe(0);
    for (const client of held) client.socket.destroy();
  });
});
