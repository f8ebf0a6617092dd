import { createServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { startSim, type RunningSim } from "@gapfill/binance-sim";
import { waitFor } from "@gapfill/testkit";
import { parseAggTradeFrame } from "../src/binance/wire.ts";
import { TradeSocket, type TradeSocketOptions } from "../src/binance/ws.ts";
import { testLogger } from "./support/harness.ts";

let sim: RunningSim | undefined;
let socket: TradeSocket | undefined;
let stopping = new AbortController();
afterEach(async () => {
  stopping.abort();
  await socket?.closed;
  await sim?.stop();
  sim = socket = undefined;
  stopping = new AbortController();
});

function openSocket(sim: RunningSim, options: Partial<TradeSocketOptions> = {}) {
  const seen = { frames: 0, opens: [] as boolean[], ids: [] as number[] };
  socket = new TradeSocket({
    signal: stopping.signal,
    baseUrl: sim.wsUrl,
    symbols: ["BTCUSDT"],
    log: testLogger("ws"),
    onFrame: (raw) => {
      seen.frames++;
      const trade = parseAggTradeFrame(raw);
      if (trade) seen.ids.push(trade.id);
    },
    onOpen: ({ reconnect }) => seen.opens.push(reconnect),
    ...options,
  });
  socket.start();
  return seen;
}

describe("TradeSocket", () => {
  it("answers a fast-pinging server with payload-echoing pongs, never more than 4 a second", async () => {
    // The server pings 10 times a second and cuts a client that sends more than 4 messages in any second.
    sim = await startSim({ historyHours: 0.1, speed: 5, pingIntervalMs: 100, pongTimeoutMs: 1500, maxIncomingPerSecond: 4 });
    const seen = openSocket(sim);
    await waitFor(() => seen.opens.length === 1, { what: "the connection" });
    // 30 pings are three seconds of them; the client answers at most 4 a second, each echoing the newest payload.
    await waitFor(() => sim!.stats().ws.pingsSent >= 30 && sim!.stats().ws.pongsAcknowledged >= 10, { timeoutMs: 10_000, what: "30 pings and 10 pongs" });
    const stats = sim.stats();
    // A wrong payload or too few pongs would end in a pong timeout; a fifth message within a second in a message-rate cut.
    expect(stats.ws.cut).toEqual({ fault: 0, lifetime: 0, pongTimeout: 0, messageRate: 0 });
    expect(stats.ws.opened).toBe(1);
    expect(socket!.downForMs()).toBe(0);
  });

  it("replaces its connection before the server's lifetime cut, without a moment down", async () => {
    sim = await startSim({ historyHours: 0.1, speed: 5, wsLifetimeMs: 900 });
    const seen = openSocket(sim, { maxConnectionMs: 600 });
    // A moment down would last at least the first reconnect backoff (100 ms): sampling every 20 ms sees it.
    let everDown = false;
    const sampler = setInterval(() => {
      if (seen.opens.length > 0 && socket!.downForMs() > 0) everDown = true;
    }, 20);
    try {
      // Trades after a replacement too: the contiguity check below means nothing without them.
      let idsBeforeReplacement: number | null = null;
      await waitFor(
        () => {
          const opened = sim!.stats().ws.opened;
          if (opened >= 2) idsBeforeReplacement ??= seen.ids.length;
          return opened >= 4 && idsBeforeReplacement !== null && seen.ids.length > idsBeforeReplacement;
        },
        { timeoutMs: 15_000, what: "four connections, with trades after the first replacement" },
      );
    } finally {
      clearInterval(sampler);
    }
    expect(sim.stats().ws.cut.lifetime).toBe(0);
    expect(everDown).toBe(false);
    expect(seen.opens[0]).toBe(false);
    expect(seen.opens.slice(1).every((reconnect) => reconnect)).toBe(true);
    // The overlap may repeat a frame, never skip one: the ids seen cover the whole span.
    const unique = [...new Set(seen.ids)].sort((a, b) => a - b);
    expect(unique.at(-1)! - unique[0]! + 1).toBe(unique.length);
  });

  it("reconnects at once after a drop, and backs off exponentially while the server hangs up", async () => {
    sim = await startSim({ historyHours: 0.1, speed: 5 });
    const seen = openSocket(sim);
    await waitFor(() => seen.frames > 0, { what: "frames" });
    sim.setFaults({ dropNow: true });
    await waitFor(() => seen.opens.length === 2, { timeoutMs: 3000, what: "a reconnect" });
    expect(socket!.downForMs()).toBe(0);

    // The server goes away; in its place something that accepts TCP and hangs up at once.
    const port = Number(new URL(sim.wsUrl).port);
    await sim.stop();
    let attempts = 0;
    const refuser = createServer((connection) => {
      attempts++;
      connection.destroy();
    });
    await new Promise<void>((resolve) => refuser.listen(port, "127.0.0.1", resolve));
    try {
      await waitFor(() => socket!.downForMs() > 3000, { timeoutMs: 6000, intervalMs: 100, what: "three seconds down" });
      // Waits of at least 100, 200, 400, 800, 1600 ms: no more than 5 attempts fit in 3 s.
      expect(attempts).toBeGreaterThanOrEqual(2);
      expect(attempts).toBeLessThanOrEqual(5);
      expect(socket!.downForMs()).toBeGreaterThan(3000);
    } finally {
      await new Promise<void>((resolve) => refuser.close(() => resolve()));
    }
  });
});
