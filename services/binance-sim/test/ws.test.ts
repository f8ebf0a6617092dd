import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "@gapfill/testkit";
import { startSim, type RunningSim } from "../src/index.ts";
import { FIXED_NOW, getJson, RecordingClient, refusedUpgrade, type AggTrade, type KlineRow } from "./support.ts";

interface AggTradeEvent extends AggTrade {
  e: string;
  E: number;
  s: string;
}
interface KlineEvent {
  e: string;
  E: number;
  s: string;
  k: { t: number; T: number; s: string; i: string; f: number; L: number; o: string; c: string; h: string; l: string; v: string; n: number; x: boolean; q: string; V: string; Q: string; B: string };
}

let sim: RunningSim | null = null;
const clients: RecordingClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await sim?.stop();
  sim = null;
});

async function connect(path: string, options = {}): Promise<RecordingClient> {
  const client = new RecordingClient(`${sim!.wsUrl}${path}`, options);
  clients.push(client);
  await client.opened();
  return client;
}

const restRows = async (fromId: number, limit = 1000) =>
  (await getJson<AggTrade[]>(`${sim!.restUrl}/api/v3/aggTrades?symbol=BTCUSDT&fromId=${fromId}&limit=${limit}`)).body;

describe("market streams", () => {
  it("/ws/<symbol>@aggTrade sends each new trade once the clock passes it, with the same fields as REST", async () => {
    sim = await startSim({ now: FIXED_NOW, speed: 10, historyHours: 0.1 });
    const startedAt = sim.clock();
    const client = await connect("/ws/btcusdt@aggTrade");
    const events = (await client.waitForMessages(150)).slice(0, 150) as AggTradeEvent[];
    const rest = await restRows(events[0]!.a, 150);
    expect(events.map(({ a, p, q, f, l, T, m, M }) => ({ a, p, q, f, l, T, m, M }))).toEqual(rest);
    for (const event of events) {
      expect(event.e).toBe("aggTrade");
      expect(event.s).toBe("BTCUSDT");
      expect(event.E).toBeGreaterThanOrEqual(event.T);
      expect(event.T).toBeGreaterThan(startedAt - 1_000);
    }
  });

  it("/stream?streams=… wraps events with their stream name; 1 s klines match REST klines", async () => {
    sim = await startSim({ now: FIXED_NOW, speed: 4, historyHours: 0.1 });
    const client = await connect("/stream?streams=btcusdt@aggTrade/btcusdt@kline_1s");
    await waitFor(() => client.messages.filter((m) => (m as { stream: string }).stream === "btcusdt@kline_1s").length >= 6, { timeoutMs: 15_000, what: "six 1 s klines" });
    const messages = client.messages as { stream: string; data: AggTradeEvent | KlineEvent }[];
    expect(new Set(messages.map((m) => m.stream))).toEqual(new Set(["btcusdt@aggTrade", "btcusdt@kline_1s"]));
    const klines = messages.filter((m) => m.stream === "btcusdt@kline_1s").map((m) => m.data as KlineEvent);
    for (const event of klines) {
      expect(event).toMatchObject({ e: "kline", s: "BTCUSDT", k: { s: "BTCUSDT", i: "1s", x: true, B: "0" } });
      expect(event.k.t % 1000).toBe(0);
      expect(event.k.T).toBe(event.k.t + 999);
      const [row] = (await getJson<KlineRow[]>(`${sim.restUrl}/api/v3/klines?symbol=BTCUSDT&interval=1s&startTime=${event.k.t}&limit=1`)).body;
      const { k } = event;
      expect([k.t, k.o, k.h, k.l, k.c, k.v, k.T, k.q, k.n, k.V, k.Q]).toEqual(row!.slice(0, 11));
    }
    expect(klines.map((e) => e.k.t)).toEqual(klines.map((_, i) => klines[0]!.k.t + i * 1000));
  });

  it("@kline_1m sends the open kline every 2 simulated seconds (x: false) and the closed one (x: true)", async () => {
    sim = await startSim({ now: FIXED_NOW, speed: 30, historyHours: 0.1 });
    const client = await connect("/ws/btcusdt@kline_1m");
    await waitFor(() => client.messages.some((m) => (m as KlineEvent).k.x), { timeoutMs: 15_000, what: "a closed 1 m kline" });
    const events = client.messages as KlineEvent[];
    const closed = events.find((event) => event.k.x)!;
    expect(closed.k.i).toBe("1m");
    expect(closed.k.T).toBe(closed.k.t + 59_999);
    const [row] = (await getJson<KlineRow[]>(`${sim.restUrl}/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime=${closed.k.t}&limit=1`)).body;
    expect([closed.k.o, closed.k.h, closed.k.l, closed.k.c, closed.k.v, closed.k.n]).toEqual([row![1], row![2], row![3], row![4], row![5], row![8]]);
    const updates = events.filter((event) => !event.k.x && event.k.t === closed.k.t);
    for (let i = 1; i < updates.length; i++) expect(updates[i]!.E - updates[i - 1]!.E).toBeGreaterThanOrEqual(2_000);
    expect(events.filter((event) => !event.k.x).length).toBeGreaterThan(0);
  });

  it("answers SUBSCRIBE, LIST_SUBSCRIPTIONS, UNSUBSCRIBE and SET_PROPERTY, and reports bad requests", async () => {
    sim = await startSim({ now: FIXED_NOW, speed: 10, historyHours: 0.1, maxIncomingPerSecond: 50 });
    const client = await connect("/ws");
    const send = (message: unknown) => client.socket.send(typeof message === "string" ? message : JSON.stringify(message));
    const replyTo = (id: unknown) => waitFor(() => client.messages.find((m) => (m as { id?: unknown }).id === id), { what: `the reply to ${String(id)}` });

    send({ method: "SUBSCRIBE", params: ["btcusdt@aggTrade"], id: 1 });
    expect(await replyTo(1)).toEqual({ result: null, id: 1 });
    await waitFor(() => client.messages.some((m) => (m as AggTradeEvent).e === "aggTrade"), { what: "a trade after SUBSCRIBE" });
    send({ method: "LIST_SUBSCRIPTIONS", id: "two" });
    expect(await replyTo("two")).toEqual({ result: ["btcusdt@aggTrade"], id: "two" });
    send({ method: "SET_PROPERTY", params: ["combined", true], id: 3 });
    expect(await replyTo(3)).toEqual({ result: null, id: 3 });
    await waitFor(() => client.messages.some((m) => (m as { stream?: string }).stream === "btcusdt@aggTrade"), { what: "a wrapped trade" });
    send({ method: "UNSUBSCRIBE", params: ["btcusdt@aggTrade"], id: 4 });
    await replyTo(4);
    const afterReply = client.messages.length;
    const clockAtReply = sim.clock();
    await waitFor(() => sim!.clock() > clockAtReply + 3_000, { what: "3 simulated seconds" });
    expect(client.messages.length).toBe(afterReply);

    send("{not json");
    send({ method: "FETCH", id: 5 });
    send({ method: "SUBSCRIBE", params: ["BTCUSDT@aggTrade"], id: 6 });
    await client.waitForMessages(afterReply + 3);
    expect(client.messages.slice(afterReply)).toEqual([
      { code: 3, msg: expect.stringMatching(/^Invalid JSON: /) },
      { code: 2, msg: expect.stringMatching(/^Invalid request: unknown method "FETCH"/), id: 5 },
      { code: 2, msg: expect.stringMatching(/^Invalid request: invalid stream name 'BTCUSDT@aggTrade'/), id: 6 },
    ]);
  });

  it("refuses unknown paths, streams and symbols at the upgrade with a JSON error", async () => {
    sim = await startSim({ now: FIXED_NOW, speed: 1, historyHours: 0.1 });
    expect(await refusedUpgrade(`${sim.wsUrl}/socket`)).toMatchObject({ status: 404, body: { error: { code: "not_found" } } });
    for (const path of ["/ws/BTCUSDT@aggTrade", "/ws/ethusdt@aggTrade", "/ws/btcusdt@kline_15s", "/ws/btcusdt@depth", "/stream?streams=btcusdt@aggTrade/%E0%A4%A"]) {
      expect(await refusedUpgrade(`${sim.wsUrl}${path}`), path).toMatchObject({ status: 400, body: { error: { code: "bad_request", message: expect.any(String) } } });
    }
    await connect("/ws/btcusdt@kline_1m");
  });
});

describe("connection upkeep", () => {
  it("pings on the interval; a pong echoing the payload keeps the client, none or a wrong one gets it dropped", async () => {
    // Pongs count as incoming messages: 4 pings a second stay under the limit of 5.
    sim = await startSim({ now: FIXED_NOW, speed: 1, historyHours: 0.1, pingIntervalMs: 250, pongTimeoutMs: 600 });
    const auto = await connect("/ws/btcusdt@aggTrade");
    const manual = await connect("/ws/btcusdt@aggTrade", { autoPong: false });
    manual.socket.on("ping", (payload: Buffer) => manual.socket.pong(payload));
    const silent = await connect("/ws/btcusdt@aggTrade", { autoPong: false });
    const wrong = await connect("/ws/btcusdt@aggTrade", { autoPong: false });
    wrong.socket.on("ping", () => wrong.socket.pong("something else"));

    expect((await silent.waitForClose()).code).toBe(1008);
    expect((await wrong.waitForClose()).code).toBe(1008);
    await waitFor(() => auto.pings >= 8 && manual.pings >= 8, { what: "eight pings" });
    expect(auto.closed).toBeNull();
    expect(manual.closed).toBeNull();
    expect(sim.stats().ws.cut.pongTimeout).toBe(2);
  });

  it("cuts every connection after its lifetime", async () => {
    sim = await startSim({ now: FIXED_NOW, speed: 1, historyHours: 0.1, wsLifetimeMs: 600 });
    const opened = Date.now();
    const client = await connect("/ws/btcusdt@aggTrade");
    expect(await client.waitForClose()).toEqual({ code: 1000, reason: "connection lifetime reached" });
    expect(Date.now() - opened).toBeGreaterThanOrEqual(550);
    expect(sim.stats().ws).toMatchObject({ opened: 1, open: 0, cut: { lifetime: 1 } });
  });

  it("drops a client that sends more than 5 messages a second", async () => {
    sim = await startSim({ now: FIXED_NOW, speed: 1, historyHours: 0.1 });
    const client = await connect("/ws");
    for (let i = 0; i < 7; i++) client.socket.send(JSON.stringify({ method: "LIST_SUBSCRIPTIONS", id: i }));
    expect((await client.waitForClose()).code).toBe(1008);
    expect(sim.stats().ws.cut.messageRate).toBe(1);
  });
});
