import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, expect, it } from "vitest";
import { TEST_NATS_URL } from "@gapfill/testkit";
import { createWorld, SYMBOL, type IngestWorld } from "./support/harness.ts";
import type { ProxyFaults } from "./support/recording-proxy.ts";
import { TYPESCRIPT_NODE_ARGS } from "@gapfill/kit";

const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));

let world: IngestWorld | undefined;
afterEach(async () => {
  await world?.cleanup();
  world = undefined;
});

/** A world whose ingestor reaches the simulator's REST API through a proxy that changes answers. */
async function worldBehindProxy(faults: ProxyFaults): Promise<{ world: IngestWorld; restUrl: string }> {
  world = await createWorld({ historyHours: 0.5, speed: 10 });
  return { world, restUrl: (await world.proxyRest(faults)).url };
}

it("ends the process at start as a configuration error (exit 78) with Binance's answer when a symbol is unknown, warning of nothing else first", async () => {
  world = await createWorld({ historyHours: 0.1, speed: 1 });
  const child = spawn(process.execPath, [...TYPESCRIPT_NODE_ARGS, MAIN], {
    env: {
      ...process.env,
      NATS_URL: TEST_NATS_URL,
      NATS_NAMESPACE: world.ns,
      BINANCE_SYMBOL: `${SYMBOL},NOSUCHPAIR`,
      BINANCE_REST_URL: world.sim.restUrl,
      BINANCE_WS_URL: world.sim.wsUrl,
      INGESTOR_METRICS_PORT: "0",
      LOG_LEVEL: "info",
      LOG_FORMAT: "json",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  const code = await new Promise<number | null>((resolve) => child.once("exit", (exitCode) => resolve(exitCode)));
  expect(code).toBe(78);
  const lines = output.split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as { level: number; msg: string; err?: { message: string } });
  // The first warning or worse is the one that ends the process, and it carries Binance's refusal.
  const firstAlarm = lines.find((line) => line.level >= 40)!;
  expect(firstAlarm.msg).toBe("ingestor failed");
  expect(firstAlarm.err!.message).toMatch(/^BINANCE_SYMBOL: .*exchangeInfo.*NOSUCHPAIR.*-1121/);
  expect(world.sim.stats().requests["/api/v3/klines"]).toBeUndefined();
}, 30_000);

it("stops at once, naming symbol and value, when Binance sends a quantity too large to hold exactly", async () => {
  const { world, restUrl } = await worldBehindProxy({
    rewrite: (path, body) => (path.startsWith("/api/v3/aggTrades") ? body.replace(/"q":"[\d.]+"/, '"q":"100000000.00000000"') : body),
  });
  const ingestor = await world.startIngestor({ INGEST_BACKFILL_HOURS: "0.1", BINANCE_REST_URL: restUrl });
  await expect(ingestor.done).rejects.toThrow(/^BTCUSDT aggregate trade \d+: quantity 100000000\.00000000 is too large to hold exactly/);
  await expect(ingestor.ready).rejects.toThrow(/too large/);
}, 30_000);

it("stops with a clear message when a live answer is not shaped as Binance documents, and stops promptly", async () => {
  let broken = false;
  const { world, restUrl } = await worldBehindProxy({
    rewrite: (path, body) => (broken && path.includes("fromId=") ? '{"unexpected":true}' : body),
  });
  const ingestor = await world.startIngestor({ INGEST_BACKFILL_HOURS: "0.1", BINANCE_REST_URL: restUrl });
  await ingestor.ready;
  broken = true;
  // The next catch-up by id (a quiet bar, a gap or polling) meets the broken answer.
  world.sim.setFaults({ dropNow: true });
  await expect(ingestor.done).rejects.toThrow(/^aggTrades BTCUSDT: expected a JSON array, got \{"unexpected":true\}/);
  const stopStarted = Date.now();
  await ingestor.stop();
  expect(Date.now() - stopStarted).toBeLessThan(3000);
}, 30_000);
