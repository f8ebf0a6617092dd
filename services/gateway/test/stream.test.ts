import { request, type IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventSource } from "eventsource";
import { jetstreamManager } from "@nats-io/jetstream";
import { BAR_MS, lastClosedBarTs, type ClosedBar, type FormingBar } from "@gapfill/contracts";
import { RawSseClient, seededWords, testBars, waitFor } from "@gapfill/testkit";
import { createGatewayTestEnv, startGateway, SYMBOL, type GatewayTestEnv, type RunningGateway } from "./support/env.ts";
import { metricValue } from "./support/metrics.ts";
import { LOCAL_SECRET, localToken, startSession, stopSession } from "./support/session.ts";

const OTHER = "ETHUSDT";
let env: GatewayTestEnv;
let gw: RunningGateway;
let token: string;
/** 4,000 bars back from now: the history is in the past (stored after its open time, as in production). */
const START = lastClosedBarTs(Date.now()) - 4000 * BAR_MS;
const history = testBars(SYMBOL, START, 3000, 7);
/** Enough bars (~11 MB of events) to overflow the kernel's socket buffers of a client that stops reading. */
const OTHER_START = lastClosedBarTs(Date.now()) - 40_000 * BAR_MS;
const otherHistory = testBars(OTHER, OTHER_START, 40_000, 9);
/** Bars of `history` published so far (the rest are published by tests as "live" bars). */
let published = 0;

async function publishUpTo(count: number): Promise<void> {
  await env.publishBars(history.slice(published, count));
  published = count;
}

function gatewayConfig(extra: Record<string, string> = {}) {
  return env.config({ LOCAL_JWT_SECRET: LOCAL_SECRET, BINANCE_SYMBOL: `${SYMBOL},${OTHER}`, ...extra });
}

beforeAll(async () => {
  env = await createGatewayTestEnv();
  await publishUpTo(100);
  await env.publishBars(otherHistory);
  await env.store.upsertBars(history.slice(0, 60));
  gw = await startGateway(env, { config: gatewayConfig(), listen: true, tuning: { heartbeatMs: 200, retryMs: 50 } });
  token = await localToken("alice");
});

afterAll(async () => {
  await gw?.close();
  await env?.cleanup();
});

function barsOf(client: RawSseClient): ClosedBar[] {
  return client.named("bar").map((e) => JSON.parse(e.data) as ClosedBar);
}

function streamUrl(base: string, sessionId: string, query = ""): string {
  return `${base}/stream/gap?session_id=${sessionId}${query}`;
}

/**
 * Holds every /stream/gap request after the access check has read its session, until that request's `release`:
 * a slow start (a slow KV read, a feed still hydrating) at a point the test chooses.
 */
function holdStreamStarts() {
  const held: { socket: Socket; release: () => void }[] = [];
  const configure = (app: FastifyInstance) =>
    app.addHook("preHandler", async (req) => {
      if (req.routeOptions.url !== "/stream/gap") return;
      await new Promise<void>((release) => held.push({ socket: req.raw.socket, release }));
    });
  return { configure, held };
}

function endReason(client: RawSseClient): string | undefined {
  const end = client.named("end")[0];
  return end ? (JSON.parse(end.data) as { reason: string }).reason : undefined;
}

describe("gap stream", () => {
  it("replays every bar after supabase_last_ts, marks live, then sends live bars and heartbeats", async () => {
    const session = await startSession(gw.url, token);
    expect(session.supabase_last_ts).toBe(history[59]!.ts);
    expect(session.stream_url).toBe(streamUrl(gw.url, session.session_id));
    const client = await RawSseClient.open(session.stream_url);
    expect(client.status).toBe(200);
    expect(client.headers["content-type"]).toMatch(/^text\/event-stream/);
    await waitFor(() => client.named("live").length === 1, { what: "live marker" });
    expect(client.retry).toBe(50);
    expect(barsOf(client)).toEqual(history.slice(60, 100));
    expect(client.events.findIndex((e) => e.event === "live")).toBe(40);
    expect(JSON.parse(client.named("live")[0]!.data)).toMatchObject({ last_ts: history[99]!.ts });

    await publishUpTo(105);
    await waitFor(() => client.named("bar").length === 45, { what: "live bars" });
    expect(barsOf(client)).toEqual(history.slice(60, 105));
    await waitFor(() => client.comments > 0, { what: "a heartbeat comment" });
    client.close();
  });

  it("sends the forming bar as `partial` only when asked, and only once live", async () => {
    const session = await startSession(gw.url, token);
    const withPartial = await RawSseClient.open(streamUrl(gw.url, session.session_id, "&partial=1"));
    const without = await RawSseClient.open(streamUrl(gw.url, session.session_id));
    await waitFor(() => withPartial.named("live").length === 1 && without.named("live").length === 1, { what: "both live" });
    const last = history[published - 1]!;
    const forming: FormingBar = { ...history[published]!, as_of: history[published]!.ts + 1234 };
    await waitFor(
      async () => {
        env.nc.publish(env.names.subjects.live(SYMBOL), JSON.stringify(forming));
        await env.nc.flush();
        return withPartial.named("partial").length > 0;
      },
      { what: "a partial event", intervalMs: 50 },
    );
    expect(JSON.parse(withPartial.named("partial")[0]!.data)).toEqual(forming);
    // A stale forming bar (not newer than the last closed bar sent) is never sent.
    env.nc.publish(env.names.subjects.live(SYMBOL), JSON.stringify({ ...last, as_of: last.ts }));
    await env.nc.flush();
    expect(withPartial.named("partial").every((e) => (JSON.parse(e.data) as FormingBar).ts > last.ts)).toBe(true);
    expect(without.named("partial")).toEqual([]);
    withPartial.close();
    without.close();
  });

  it("ends with `to_ts` after the bar at to_ts, whether it is replayed or arrives live", async () => {
    const session = await startSession(gw.url, token);
    const replayed = await RawSseClient.open(
      streamUrl(gw.url, session.session_id, `&from_ts=${history[10]!.ts}&to_ts=${history[20]!.ts}`),
    );
    await waitFor(() => replayed.closed, { what: "the replayed stream to close" });
    expect(replayed.barTimes()).toEqual(history.slice(11, 21).map((b) => b.ts));
    expect(endReason(replayed)).toBe("to_ts");
    expect(replayed.named("live")).toEqual([]);

    const target = history[published + 2]!.ts;
    const live = await RawSseClient.open(streamUrl(gw.url, session.session_id, `&to_ts=${target}`));
    await waitFor(() => live.named("live").length === 1, { what: "live marker" });
    await publishUpTo(published + 5);
    await waitFor(() => live.closed, { what: "the live stream to close at to_ts" });
    expect(live.barTimes().at(-1)).toBe(target);
    expect(endReason(live)).toBe("to_ts");
    expect(JSON.parse(live.named("end")[0]!.data)).toEqual({ reason: "to_ts", last_ts: target });
  });

  it("resumes after Last-Event-ID across random disconnects: one contiguous series, no duplicates (raw HTTP)", async () => {
    const session = await startSession(gw.url, token);
    const from = history[published - 30]!.ts;
    const target = published + 40;
    const last = history[target - 1]!.ts;
    const random = seededWords(7);
    const received: number[] = [];
    let lastEventId: string | null = null;
    let reconnects = 0;
    while (received.length === 0 || received.at(-1)! < last) {
      // Live bars keep arriving while the client is away: one to three more before each reconnect.
      await publishUpTo(Math.min(target, published + 1 + (random() % 3)));
      const headers: Record<string, string> = lastEventId ? { "last-event-id": lastEventId } : {};
      const client = await RawSseClient.open(streamUrl(gw.url, session.session_id, `&from_ts=${from}`), headers);
      const keep = 1 + (random() % 8);
      const newest = history[published - 1]!.ts;
      await waitFor(() => client.named("bar").length >= keep || client.barTimes().at(-1) === newest, { what: "some bars" });
      client.close();
      const times = client.barTimes();
      received.push(...times);
      if (times.length > 0) lastEventId = String(times.at(-1));
      reconnects++;
    }
    expect(reconnects).toBeGreaterThan(3);
    const expected = history.filter((b) => b.ts > from && b.ts <= last).map((b) => b.ts);
    expect(received.slice(0, expected.length)).toEqual(expected);
    expect(new Set(received).size).toBe(received.length);
  });

  it("resumes with a standard EventSource after the server cuts the connection at random", async () => {
    const session = await startSession(gw.url, token);
    const from = history[published - 50]!.ts;
    // The sockets carrying this session's streams (an EventSource may reuse a kept-alive socket, so by request).
    const sockets = new Set<Socket>();
    const track = (req: IncomingMessage) => {
      if (!req.url?.includes(session.session_id)) return;
      sockets.add(req.socket);
      req.socket.once("close", () => sockets.delete(req.socket));
    };
    gw.app.server.on("request", track);
    const bars: ClosedBar[] = [];
    let opens = 0;
    const es = new EventSource(streamUrl(gw.url, session.session_id, `&from_ts=${from}`));
    es.addEventListener("open", () => opens++);
    es.addEventListener("bar", (event) => bars.push(JSON.parse(event.data) as ClosedBar));
    const target = published + 30;
    let cuts = 0;
    try {
      await waitFor(() => opens === 1, { what: "the EventSource to open" });
      const random = seededWords(11);
      for (let step = 0; published < target || cuts < 3; step++) {
        await publishUpTo(Math.min(history.length, published + 1 + (random() % 3)));
        // Cut the open connection at seeded moments (and at least every fifth step): the client reconnects with
        // Last-Event-ID by itself. Each step goes on once the client holds every bar published so far.
        if ((random() % 10 < 4 || step % 5 === 4) && sockets.size > 0) {
          for (const socket of sockets) socket.destroy();
          cuts++;
        }
        const newest = history[published - 1]!.ts;
        await waitFor(() => bars.at(-1)?.ts === newest, { what: `bar ${newest} after step ${step}`, timeoutMs: 15_000 });
      }
      const last = history[published - 1]!.ts;
      await waitFor(() => bars.at(-1)?.ts === last, { what: "the last published bar", timeoutMs: 15_000 });
    } finally {
      es.close();
      gw.app.server.off("request", track);
    }
    expect(opens).toBeGreaterThan(1);
    const expected = history.filter((b) => b.ts > from && b.ts <= history[published - 1]!.ts);
    expect(bars).toEqual(expected);
  });

  it("rejects a from_ts older than the stream keeps, naming the earliest available bar", async () => {
    const session = await startSession(gw.url, token);
    const response = await fetch(streamUrl(gw.url, session.session_id, `&from_ts=${START - 2 * BAR_MS}`));
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("from_ts_too_old");
    expect(body.error.message).toContain(String(START));
    // One bar before the earliest is still fine: nothing is missing after it.
    const ok = await RawSseClient.open(streamUrl(gw.url, session.session_id, `&from_ts=${START - BAR_MS}&to_ts=${START + BAR_MS}`));
    await waitFor(() => ok.closed, { what: "the stream to end" });
    expect(ok.barTimes()).toEqual([START, START + BAR_MS]);
  });

  it("ends with `stopped` when another gateway replica stops the session", async () => {
    const second = await startGateway(env, { config: gatewayConfig(), listen: true });
    try {
      const session = await startSession(gw.url, token);
      const client = await RawSseClient.open(session.stream_url);
      await waitFor(() => client.named("live").length === 1, { what: "live marker" });
      const response = await stopSession(second.url, token, session.session_id);
      expect(response.status).toBe(200);
      await waitFor(() => client.closed, { what: "the stream on the first replica to close" });
      expect(endReason(client)).toBe("stopped");
      const again = await fetch(session.stream_url);
      expect(again.status).toBe(410);
      expect(((await again.json()) as { error: { code: string } }).error.code).toBe("session_stopped");
    } finally {
      await second.close();
    }
  });

  it("ends with `max_duration` after GAP_STREAM_MAX_MINUTES of live following", async () => {
    const short = await startGateway(env, { config: gatewayConfig({ GAP_STREAM_MAX_MINUTES: "0.01" }), listen: true });
    try {
      const session = await startSession(short.url, token);
      const client = await RawSseClient.open(session.stream_url);
      await waitFor(() => client.named("live").length === 1, { what: "live marker" });
      const liveAt = Date.now();
      await waitFor(() => client.closed, { what: "max_duration end" });
      expect(endReason(client)).toBe("max_duration");
      expect(Date.now() - liveAt).toBeGreaterThanOrEqual(500);
    } finally {
      await short.close();
    }
  });

  it("ends with `expired` when the session's TTL runs out", async () => {
    // The session lives as long as the bucket's TTL (1,800 s here): the gateway's clock jumps to a second before.
    let skewMs = 0;
    const expiring = await startGateway(env, { config: gatewayConfig(), listen: true, now: () => Date.now() + skewMs });
    try {
      const session = await startSession(expiring.url, token);
      expect(session.expires_at - Date.now()).toBeGreaterThan(1_790_000);
      skewMs = session.expires_at - Date.now() - 1000;
      const client = await RawSseClient.open(session.stream_url);
      await waitFor(() => client.closed, { what: "expiry" });
      expect(endReason(client)).toBe("expired");
      expect(Date.now() + skewMs).toBeGreaterThanOrEqual(session.expires_at);
      const again = await fetch(session.stream_url);
      expect([404, 410]).toContain(again.status);
    } finally {
      await expiring.close();
    }
  });

  it("ends with `shutdown` when the gateway closes", async () => {
    const closing = await startGateway(env, { config: gatewayConfig(), listen: true });
    const session = await startSession(closing.url, token);
    const client = await RawSseClient.open(session.stream_url);
    await waitFor(() => client.named("live").length === 1, { what: "live marker" });
    await closing.close();
    await waitFor(() => client.closed, { what: "the stream to close" });
    expect(endReason(client)).toBe("shutdown");
  });
});

describe("gap stream start-up races", () => {
  it("finishes a stream whose client left while it was starting as client_closed, live or replaying", async () => {
    const hold = holdStreamStarts();
    const slow = await startGateway(env, { config: gatewayConfig(), listen: true, configure: hold.configure, tuning: { stallMs: 300 } });
    try {
      const cases = [
        { what: "a stream that would go live", symbol: SYMBOL, query: "" },
        { what: "a stream that would replay from JetStream", symbol: OTHER, query: `&from_ts=${OTHER_START}` },
      ];
      for (const [index, { what, symbol, query }] of cases.entries()) {
        const session = await startSession(slow.url, token, { symbol });
        const req = request(streamUrl(slow.url, session.session_id, query));
        req.on("error", () => {});
        req.end();
        await waitFor(() => hold.held.length === index + 1, { what: `${what}: the request to be held` });
        const { socket, release } = hold.held[index]!;
        req.destroy();
        await waitFor(() => socket.destroyed, { what: `${what}: the server to see the client leave` });
        release();
        const closedEnds = () => metricValue(slow, "gateway_sse_stream_ends_total", { reason: "client_closed" });
        await waitFor(async () => (await closedEnds()) === index + 1, { what: `${what}: a client_closed end` });
        expect(await metricValue(slow, "gateway_sse_streams_open")).toBe(0);
        expect(await metricValue(slow, "gateway_slow_consumers_total")).toBe(0);
      }
    } finally {
      await slow.close();
    }
  });

  it("ends with `stopped` a stream whose session was stopped while it was starting, by this replica or another", async () => {
    const hold = holdStreamStarts();
    const slow = await startGateway(env, { config: gatewayConfig(), listen: true, configure: hold.configure });
    try {
      for (const [index, stopper] of [slow, gw].entries()) {
        const session = await startSession(slow.url, token);
        const opening = RawSseClient.open(session.stream_url);
        await waitFor(() => hold.held.length === index + 1, { what: "the request to be held after its session check" });
        expect((await stopSession(stopper.url, token, session.session_id)).status).toBe(200);
        hold.held[index]!.release();
        const client = await opening;
        await waitFor(() => client.closed, { what: "the stream to end" });
        expect(endReason(client)).toBe("stopped");
        expect(client.named("live")).toEqual([]);
      }
      expect(await metricValue(slow, "gateway_sse_streams_open")).toBe(0);
    } finally {
      await slow.close();
    }
  });
});

describe("gap stream limits", () => {
  it("refuses a session's streams beyond GAP_STREAMS_PER_SESSION with 429, even when they arrive together", async () => {
    const limited = await startGateway(env, { config: gatewayConfig({ GAP_STREAMS_PER_SESSION: "2" }), listen: true });
    const clients: RawSseClient[] = [];
    try {
      const session = await startSession(limited.url, token);
      clients.push(...(await Promise.all([0, 1, 2, 3].map(() => RawSseClient.open(session.stream_url)))));
      expect(clients.map((c) => c.status).sort()).toEqual([200, 200, 429, 429]);
      const refused = clients.find((c) => c.status === 429)!;
      await waitFor(() => refused.closed, { what: "the refusal's body" });
      expect(JSON.parse(refused.body)).toMatchObject({ error: { code: "too_many_streams" } });
      // Another session of the same user has its own streams.
      const other = await startSession(limited.url, token);
      clients.push(await RawSseClient.open(other.stream_url));
      expect(clients.at(-1)!.status).toBe(200);
      // Once one of the session's streams ends, the session may open another.
      clients.find((c) => c.status === 200)!.close();
      await waitFor(async () => (await metricValue(limited, "gateway_sse_streams_open")) === 2, { what: "a slot to free" });
      clients.push(await RawSseClient.open(session.stream_url));
      expect(clients.at(-1)!.status).toBe(200);
    } finally {
      for (const client of clients) client.close();
      await limited.close();
    }
  });

  it("rate-limits opening gap streams per user (GAP_STREAM_PER_MINUTE) with a 429 JSON error", async () => {
    const limited = await startGateway(env, { config: gatewayConfig({ GAP_STREAM_PER_MINUTE: "3" }), listen: true });
    try {
      const session = await startSession(limited.url, token);
      // Bounded by to_ts, so each stream ends by itself and only the rate of opening counts.
      const bounded = streamUrl(limited.url, session.session_id, `&from_ts=${history[10]!.ts}&to_ts=${history[12]!.ts}`);
      for (let i = 0; i < 3; i++) {
        const client = await RawSseClient.open(bounded);
        expect(client.status).toBe(200);
        await waitFor(() => client.closed, { what: "a bounded stream to end" });
      }
      const refused = await fetch(bounded);
      expect(refused.status).toBe(429);
      expect(refused.headers.get("retry-after")).toMatch(/^\d+$/);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("rate_limited");
      // The limit is per user: another user's session is served.
      const bobSession = await startSession(limited.url, await localToken("bob"));
      const bob = await RawSseClient.open(streamUrl(limited.url, bobSession.session_id, `&to_ts=${history[12]!.ts}&from_ts=${history[10]!.ts}`));
      expect(bob.status).toBe(200);
      bob.close();
    } finally {
      await limited.close();
    }
  });
});

describe("gap stream resources", () => {
  it("serves a replay older than the window from its own consumer, hands over to the window without gap or duplicate, and deletes the consumer", async () => {
    const small = await startGateway(env, { config: gatewayConfig({ GAP_WINDOW_BARS: "50" }), listen: true });
    const jsm = await jetstreamManager(env.nc);
    const consumers = async () => {
      const names: string[] = [];
      for await (const info of jsm.consumers.list(env.names.streams.bars)) names.push(info.name);
      return names.length;
    };
    try {
      const before = await consumers();
      const session = await startSession(small.url, token);
      const from = history[5]!.ts;
      const client = await RawSseClient.open(streamUrl(small.url, session.session_id, `&from_ts=${from}`));
      // Bars keep arriving during the replay, so the hand-over happens while the window moves.
      const target = published + 20;
      while (published < target) await publishUpTo(published + 1);
      await waitFor(() => client.barTimes().at(-1) === history[target - 1]!.ts, { what: "every bar", timeoutMs: 20_000 });
      expect(client.barTimes()).toEqual(history.slice(6, target).map((b) => b.ts));
      expect(client.named("live")).toHaveLength(1);
      await waitFor(async () => (await consumers()) === before, { what: "the replay consumer to be deleted" });
      client.close();
    } finally {
      await small.close();
    }
  });

  it("ends a client that stops reading during a replay with `slow_consumer`", async () => {
    const strict = await startGateway(env, {
      config: gatewayConfig(),
      listen: true,
      tuning: { stallMs: 300, maxBufferedBytes: 64 * 1024, replayChunkBars: 500 },
    });
    try {
      const session = await startSession(strict.url, token, { symbol: OTHER });
      const client = await RawSseClient.open(streamUrl(strict.url, session.session_id, `&from_ts=${OTHER_START}`));
      client.pause();
      await waitFor(async () => (await metricValue(strict, "gateway_slow_consumers_total")) === 1, { what: "slow consumer" });
      await waitFor(async () => (await metricValue(strict, "gateway_sse_streams_open")) === 0, { what: "the stream to close" });
      client.close();
    } finally {
      await strict.close();
    }
  });

  it("ends a live client whose unread output passes the bound with `slow_consumer`", async () => {
    const strict = await startGateway(env, {
      config: gatewayConfig(),
      listen: true,
      tuning: { maxBufferedBytes: 64 * 1024 },
    });
    try {
      const session = await startSession(strict.url, token, { symbol: OTHER });
      const last = otherHistory.at(-1)!;
      const client = await RawSseClient.open(streamUrl(strict.url, session.session_id, `&from_ts=${last.ts}&partial=1`));
      await waitFor(() => client.named("live").length === 1, { what: "live marker" });
      client.pause();
      // Forming-bar updates far beyond what the kernel's socket buffers hold, so the excess queues in the process.
      const forming = JSON.stringify({ ...last, ts: last.ts + BAR_MS, as_of: last.ts + BAR_MS + 1 });
      for (let i = 0; i < 50_000; i++) env.nc.publish(env.names.subjects.live(OTHER), forming);
      await env.nc.flush();
      await waitFor(async () => (await metricValue(strict, "gateway_slow_consumers_total")) === 1, { what: "slow consumer" });
      await waitFor(async () => (await metricValue(strict, "gateway_sse_streams_open")) === 0, { what: "the stream to close" });
      client.close();
    } finally {
      await strict.close();
    }
  });
});
