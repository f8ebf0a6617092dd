import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "@gapfill/testkit";
import { startSim, type RunningSim, type SimOptions } from "../src/index.ts";
import { FIXED_NOW, getJson, RecordingClient, type AggTrade } from "./support.ts";

interface AggTradeEvent extends AggTrade {
  e: string;
  E: number;
}

let sim: RunningSim | null = null;
const clients: RecordingClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await sim?.stop();
  sim = null;
});

async function start(options: SimOptions = {}): Promise<RunningSim> {
  sim = await startSim({ now: FIXED_NOW, speed: 10, historyHours: 0.1, ...options });
  return sim;
}

async function listen(path = "/ws/btcusdt@aggTrade"): Promise<RecordingClient> {
  const client = new RecordingClient(`${sim!.wsUrl}${path}`);
  clients.push(client);
  await client.opened();
  return client;
}

const trades = (client: RecordingClient) => client.messages as AggTradeEvent[];

/** The REST trades with ids in [fromId, toId]. */
async function restRange(fromId: number, toId: number): Promise<AggTrade[]> {
  const rows: AggTrade[] = [];
  for (let next = fromId; next <= toId; ) {
    const { body } = await getJson<AggTrade[]>(`${sim!.restUrl}/api/v3/aggTrades?symbol=BTCUSDT&fromId=${next}&limit=1000`);
    rows.push(...body.filter((row) => row.a <= toId));
    if (body.length === 0) break;
    next = body.at(-1)!.a + 1;
  }
  return rows;
}

async function newestId(): Promise<number> {
  const { body } = await getJson<AggTrade[]>(`${sim!.restUrl}/api/v3/aggTrades?symbol=BTCUSDT&limit=1`);
  return body[0]!.a;
}

describe("WebSocket drop faults", () => {
  it("dropNow cuts every connection at once without a close frame (POST /_sim/faults)", async () => {
    await start();
    const a = await listen();
    const b = await listen("/stream?streams=btcusdt@kline_1s");
    const answer = await getJson(`${sim!.restUrl}/_sim/faults`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ dropNow: true }) });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ dropNow: false });
    expect((await a.waitForClose()).code).toBe(1006);
    expect((await b.waitForClose()).code).toBe(1006);
    expect(sim!.stats().ws.cut.fault).toBe(2);
  });

  it("wsDropEveryMs cuts the connections again and again", async () => {
    await start({ faults: { wsDropEveryMs: 300 } });
    let cuts = 0;
    while (cuts < 3) {
      const client = await listen();
      await client.waitForClose();
      cuts++;
    }
    expect(sim!.stats().ws.cut.fault).toBe(3);
    sim!.setFaults({ wsDropEveryMs: 0 });
    const survivor = await listen();
    await survivor.waitForMessages(100);
    expect(survivor.closed).toBeNull();
  });

  it("wsDropAt cuts every connection once the simulated clock passes each instant", async () => {
    await start();
    const instant = sim!.clock() + 2_000;
    sim!.setFaults({ wsDropAt: [instant] });
    const client = await listen();
    await client.waitForClose();
    expect(sim!.clock()).toBeGreaterThanOrEqual(instant);
    expect(Math.max(...trades(client).map((event) => event.T))).toBeLessThanOrEqual(instant);
    const later = await listen();
    await later.waitForMessages(50);
    expect(later.closed).toBeNull();
  });
});

describe("WebSocket frame faults (REST keeps serving every trade)", () => {
  it("withholds chosen trade ids from the stream: the stream shows id jumps, REST still has them", async () => {
    await start();
    const client = await listen();
    // Far enough ahead that even a burst cannot reach them before the switch is set.
    const newest = await newestId();
    const withheld = [newest + 300, newest + 301, newest + 350];
    sim!.setFaults({ wsWithholdIds: withheld });
    await waitFor(() => trades(client).some((event) => event.a > newest + 400), { timeoutMs: 30_000, what: "trades past the withheld ids" });
    const seen = trades(client).map((event) => event.a);
    const rest = await restRange(seen[0]!, newest + 400);
    expect(seen.filter((id) => id <= newest + 400)).toEqual(rest.map((row) => row.a).filter((id) => !withheld.includes(id)));
    expect(rest.map((row) => row.a)).toEqual(expect.arrayContaining(withheld));
    expect(seen).toContain(newest + 302);
    expect(seen[seen.indexOf(newest + 302) - 1]).toBe(newest + 299);
    expect(sim!.stats().ws.withheldIds).toEqual(withheld);
  });

  it("withholds a reproducible share of trades by probability, exactly those stats report", async () => {
    await start({ speed: 20, faults: { wsWithholdProbability: 0.2 } });
    const client = await listen();
    await client.waitForMessages(400);
    const seen = trades(client).map((event) => event.a);
    const rest = await restRange(seen[0]!, seen.at(-1)!);
    const missing = rest.map((row) => row.a).filter((id) => !seen.includes(id));
    expect(missing.length / rest.length).toBeGreaterThan(0.1);
    expect(missing.length / rest.length).toBeLessThan(0.3);
    const reported = new Set(sim!.stats().ws.withheldIds);
    expect(missing.every((id) => reported.has(id))).toBe(true);
    expect(seen.some((id) => reported.has(id))).toBe(false);
  });

  it("duplicates frames", async () => {
    await start({ faults: { wsDuplicateProbability: 1 } });
    const client = await listen();
    const events = (await client.waitForMessages(200)).slice(0, 200) as AggTradeEvent[];
    for (let i = 0; i < events.length; i += 2) expect(events[i + 1]).toEqual(events[i]);
    expect(sim!.stats().ws.framesDuplicated).toBeGreaterThanOrEqual(100);
  });

  it("reorders frames within a window and loses none", async () => {
    await start({ speed: 20, faults: { wsReorderWindow: 8, wsDuplicateProbability: 0.1 } });
    const client = await listen();
    await client.waitForMessages(300);
    const seen = trades(client).map((event) => event.a);
    const inversions = seen.filter((id, i) => i > 0 && id < seen[i - 1]!).length;
    expect(inversions).toBeGreaterThan(10);
    const low = Math.min(...seen);
    const high = Math.max(...seen);
    // Trades at the very end may still sit in a reorder window; everything up to a window before the end arrived.
    const settled = (await restRange(low, high)).map((row) => row.a).filter((id) => id <= high - 16);
    expect([...new Set(seen.filter((id) => id <= high - 16))].sort((x, y) => x - y)).toEqual(settled);
    expect(seen.length).toBeGreaterThan(new Set(seen).size);
  });

  it("delays frames", async () => {
    await start({ speed: 5 });
    const client = await listen();
    // How late a frame arrives, in wall-clock ms: simulated time since its event time, over the speed.
    const lags: number[] = [];
    client.socket.on("message", (data) => lags.push((sim!.clock() - (JSON.parse(data.toString()) as AggTradeEvent).E) / 5));
    await waitFor(() => lags.length >= 20, { what: "20 prompt frames" });
    const prompt = lags.splice(0).sort((a, b) => a - b);
    sim!.setFaults({ wsDelayMs: 400 });
    await waitFor(() => lags.length >= 60, { what: "60 delayed frames" });
    const delayed = lags.slice(20).sort((a, b) => a - b);
    expect(prompt[prompt.length >> 1]).toBeLessThan(100);
    expect(delayed[delayed.length >> 1]).toBeGreaterThanOrEqual(390);
  });
});

describe("REST faults", () => {
  it("answers the next N requests with the burst's status, then normally again", async () => {
    await start();
    const ping = `${sim!.restUrl}/api/v3/ping`;
    sim!.setFaults({ restErrorBurst: { status: 429, count: 2, retryAfterSeconds: 7 } });
    for (let i = 0; i < 2; i++) {
      const answer = await getJson(ping);
      expect(answer.status).toBe(429);
      expect(answer.headers.get("retry-after")).toBe("7");
      expect(answer.body).toMatchObject({ code: -1003 });
    }
    expect((await getJson(ping)).status).toBe(200);
    sim!.setFaults({ restErrorBurst: { status: 500, count: 1 } });
    expect(await getJson(ping)).toMatchObject({ status: 500, body: { code: -1001 } });
    sim!.setFaults({ restErrorBurst: { status: 418, count: 1 } });
    const banned = await getJson<{ msg: string }>(ping);
    expect(banned.status).toBe(418);
    expect(banned.headers.get("retry-after")).toBe("1");
    expect(banned.body.msg).toMatch(/IP banned until/);
    expect((await getJson(ping)).status).toBe(200);
    expect(sim!.faults().restErrorBurst).toBeNull();
    expect(sim!.stats()).toMatchObject({ restFaultsServed: 4, served429: 2, served418: 1, requests: { "/api/v3/ping": { "200": 2, "429": 2, "500": 1, "418": 1 } } });
  });

  it("slows every REST answer", async () => {
    await start({ faults: { restLatencyMs: 300 } });
    const started = performance.now();
    expect((await getJson(`${sim!.restUrl}/api/v3/time`)).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(295);
  });
});

describe("the fault switch", () => {
  it("reads and patches faults over HTTP; a bad patch is a 400 and changes nothing", async () => {
    await start();
    const url = `${sim!.restUrl}/_sim/faults`;
    const post = (body: string) => getJson(url, { method: "POST", headers: { "content-type": "application/json" }, body });
    expect((await post(JSON.stringify({ wsDelayMs: 5, restLatencyMs: 1 }))).body).toMatchObject({ wsDelayMs: 5, restLatencyMs: 1, wsDropEveryMs: 0 });
    for (const bad of ['{"wsDelayMs":-1}', '{"wsDelay":5}', '{"wsWithholdProbability":2}', '{"restErrorBurst":{"status":503,"count":1}}', "[1]", "{oops"]) {
      const answer = await post(bad);
      expect(answer.status, bad).toBe(400);
      expect(answer.body).toMatchObject({ error: { code: "bad_request", message: expect.any(String) } });
    }
    expect((await getJson(url)).body).toMatchObject({ wsDelayMs: 5, restLatencyMs: 1, wsWithholdProbability: 0, restErrorBurst: null });
    expect(() => sim!.setFaults({ wsReorderWindow: -3 })).toThrow(/wsReorderWindow/);
  });
});
