import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "@gapfill/testkit";
import { startSim, type RunningSim } from "../src/index.ts";
import { FIXED_NOW, getFrom, getJson } from "./support.ts";

let sim: RunningSim | null = null;
afterEach(async () => {
  await sim?.stop();
  sim = null;
});

const used = (answer: { headers: Headers }) => Number(answer.headers.get("x-mbx-used-weight-1m"));

describe("request weight (X-MBX-USED-WEIGHT-1M) per client IP", () => {
  it("adds each endpoint's documented weight on every answer, errors included, per IP", async () => {
    sim = await startSim({ now: FIXED_NOW, speed: 0, historyHours: 0.1 });
    const url = (path: string) => `${sim!.restUrl}/api/v3/${path}`;
    const steps: [string, number][] = [
      ["ping", 1],
      ["time", 1],
      ["aggTrades?symbol=BTCUSDT&limit=1", 4],
      ["klines?symbol=BTCUSDT&interval=1s&limit=1", 2],
      ["exchangeInfo", 20],
      ["aggTrades?symbol=NOPE", 4],
    ];
    let total = 0;
    for (const [path, weight] of steps) {
      total += weight;
      const answer = await getJson(url(path));
      expect(used(answer), path).toBe(total);
      expect(answer.headers.get("x-mbx-used-weight")).toBe(String(total));
    }
    const other = await getFrom("127.0.0.2", url("ping"));
    expect(other.headers["x-mbx-used-weight-1m"]).toBe("1");
    expect(sim.stats().weightByIp).toEqual({ "127.0.0.1": total, "127.0.0.2": 1 });
    expect((await getJson(`${sim.restUrl}/_sim/stats`)).headers.get("x-mbx-used-weight-1m")).toBeNull();
  });

  it("answers 429 with Retry-After past the limit, then 418 with a ban to a client that keeps going", async () => {
    sim = await startSim({ now: FIXED_NOW, speed: 0, historyHours: 0.1, weightLimit: 20, banAfterRejections: 3, banBaseMs: 1_500 });
    const aggTrades = `${sim.restUrl}/api/v3/aggTrades?symbol=BTCUSDT&limit=1`;
    for (let i = 1; i <= 5; i++) expect((await getJson(aggTrades)).status).toBe(200);
    const limited = [];
    for (let i = 0; i < 3; i++) limited.push(await getJson(aggTrades));
    for (const answer of limited) {
      expect(answer.status).toBe(429);
      expect(Number(answer.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(Number(answer.headers.get("retry-after"))).toBeLessThanOrEqual(60);
      expect(answer.body).toEqual({
        code: -1003,
        msg: "Too much request weight used; current limit is 20 request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.",
      });
    }
    const banned = await getJson<{ code: number; msg: string }>(aggTrades);
    expect(banned.status).toBe(418);
    expect(banned.headers.get("retry-after")).toBe("2");
    expect(banned.body.code).toBe(-1003);
    expect(banned.body.msg).toMatch(/^Way too much request weight used; IP banned until \d{13}\. Please use WebSocket Streams/);
    expect((await getJson(`${sim.restUrl}/api/v3/ping`)).status).toBe(418);
    expect((await getFrom("127.0.0.3", `${sim.restUrl}/api/v3/ping`)).status).toBe(200);
    expect(sim.stats()).toMatchObject({ served429: 3, served418: 2, requests: { "/api/v3/aggTrades": { "200": 5, "429": 3, "418": 1 } } });
    await waitFor(async () => (await getJson(`${sim!.restUrl}/api/v3/ping`)).status !== 418, { timeoutMs: 5_000, what: "the ban to end" });
  });

  it("starts a fresh count when the window rolls over", async () => {
    sim = await startSim({ now: FIXED_NOW, speed: 0, historyHours: 0.1, weightLimit: 3, weightWindowMs: 1_000, banAfterRejections: 1_000 });
    const ping = `${sim.restUrl}/api/v3/ping`;
    await waitFor(async () => (await getJson(ping)).status === 429, { what: "the limit to be reached" });
    const fresh = await waitFor(async () => {
      const answer = await getJson(ping);
      return answer.status === 200 && used(answer) === 1 ? answer : null;
    }, { timeoutMs: 5_000, what: "a new window" });
    expect(fresh.body).toEqual({});
  });
});
