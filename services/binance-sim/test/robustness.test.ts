import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "@gapfill/testkit";
import { startSim, type RunningSim } from "../src/index.ts";
import { FIXED_NOW, getJson, RecordingClient } from "./support.ts";

let sim: RunningSim;
beforeAll(async () => {
  sim = await startSim({ now: FIXED_NOW, speed: 10, historyHours: 0.2, weightLimit: 10_000_000, maxIncomingPerSecond: 10_000 });
});
afterAll(() => sim.stop());

const names = ["symbol", "fromId", "startTime", "endTime", "limit", "interval", "timeZone", "symbols", "x"];
const values = fc.oneof(
  fc.constantFrom("BTCUSDT", "btcusdt", "", "0", "-1", "1s", "1m", "99999999999999999999999", "1e3", "%", "%E0%A4%A", '["BTCUSDT"]', "[", "12:75", "+14:00"),
  fc.integer({ min: -1, max: 2 * FIXED_NOW }).map(String),
  fc.string({ maxLength: 12 }).map(encodeURIComponent),
);
const queries = fc.array(fc.tuple(fc.constantFrom(...names), values), { maxLength: 6 }).map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join("&"));

describe("nothing a client sends breaks the simulator", () => {
  it("answers any REST query with JSON and never a 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("aggTrades", "klines", "exchangeInfo", "ping", "time"), queries, async (endpoint, query) => {
        const answer = await getJson(`${sim.restUrl}/api/v3/${endpoint}?${query}`);
        expect(answer.status, `${endpoint}?${query}`).toBeLessThan(500);
        if (answer.status >= 400) expect(answer.body).toMatchObject({ code: expect.any(Number), msg: expect.any(String) });
      }),
      { numRuns: 300 },
    );
    for (const path of ["/_sim/bars?symbol=%ZZ", "/_sim/bars?from=1&to=2", "/%ZZ", "/api/v3/aggTrades?symbol=BTCUSDT&fromId=%FF"]) {
      expect((await getJson(`${sim.restUrl}${path}`)).status, path).toBeLessThan(500);
    }
  });

  it("survives any WebSocket message, then still streams to everyone", async () => {
    const junk = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.json(),
      fc.record({ method: fc.constantFrom("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY", "X"), params: fc.anything(), id: fc.anything() }).map((m) => JSON.stringify(m)),
    );
    const samples = fc.sample(junk, { numRuns: 300, seed: 11 });
    const noisy = new RecordingClient(`${sim.wsUrl}/ws`);
    await noisy.opened();
    for (const message of samples) noisy.socket.send(message);
    noisy.socket.send(Buffer.from([0xff, 0x00, 0x13]), { binary: true });
    await waitFor(() => noisy.messages.length >= samples.length || noisy.closed, { timeoutMs: 15_000, what: "replies to every message" });
    const listener = new RecordingClient(`${sim.wsUrl}/ws/btcusdt@aggTrade`);
    await listener.opened();
    await listener.waitForMessages(3, 20_000);
    expect((await getJson(`${sim.restUrl}/api/v3/ping`)).status).toBe(200);
    noisy.close();
    listener.close();
  });
});
