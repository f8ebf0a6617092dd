/**
 * `npm start` with NATS_URL pointing where nothing listens: the supervisor starts its own nats-server (the repo's
 * nats.conf, data under DATA_DIR) and the stack becomes ready. Binance URLs point at a closed local port: this
 * test is about NATS and readiness, and nothing may reach the internet.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { stackConfigSchema } from "@gapfill/contracts";
import { loadConfig } from "@gapfill/kit";
import { freePort, waitFor } from "@gapfill/testkit";
import { natsAnswers, runStack, type RunningStack } from "../src/index.ts";

const dataDir = mkdtempSync(join(tmpdir(), "gapfill-start-"));
let stack: RunningStack | undefined;

afterAll(async () => {
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
}, 60_000);

it("starts its own nats-server when none answers at NATS_URL, and the stack becomes ready", async () => {
  const natsUrl = `nats://127.0.0.1:${await freePort()}`;
  expect(await natsAnswers(natsUrl)).toBe(false);
  const config = loadConfig(stackConfigSchema, "stack", {
    NATS_URL: natsUrl,
    DATA_DIR: dataDir,
    PORT: String(await freePort()),
  });
  const lines: string[] = [];
  stack = await runStack({
    mode: "live",
    config,
    env: {
      ...process.env,
      BINANCE_REST_URL: "http://127.0.0.1:9",
      BINANCE_WS_URL: "ws://127.0.0.1:9",
      INGESTOR_METRICS_PORT: "0",
      RECORDER_METRICS_PORT: "0",
      GATEWAY_METRICS_PORT: "0",
      EMBEDDER_METRICS_PORT: "0",
      SCHEDULER_METRICS_PORT: "0",
      LOG_FORMAT: "json",
    },
    write: (text) => void lines.push(text),
  });
  expect(stack.localNats).not.toBeNull();
  expect(await natsAnswers(natsUrl)).toBe(true);
  expect(lines.join("")).toMatch(/no NATS server answers at .*; starting nats-server with nats.conf/);
  await stack.ready(90_000);
  const ready = await fetch(`${stack.gatewayUrl}/readyz`);
  expect(ready.status).toBe(200);
  expect(await ready.json()).toEqual({ status: "ready" });

  await stack.stop();
  expect(await natsAnswers(natsUrl)).toBe(false);
  stack = undefined;
}, 150_000);

it("a start-up stopped right after it started nats-server stops that server too (no orphan keeps the port)", async () => {
  const natsUrl = `nats://127.0.0.1:${await freePort()}`;
  const config = loadConfig(stackConfigSchema, "stack", { NATS_URL: natsUrl, DATA_DIR: dataDir, PORT: String(await freePort()) });
  const starting = new AbortController();
  const lines: string[] = [];
  const run = runStack({
    mode: "demo",
    config,
    signal: starting.signal,
    write: (text) => {
      lines.push(text);
      // Abort as soon as the nats-server it started answers, before the simulator is up.
      if (text.includes("starting nats-server")) void natsAnswersSoon(natsUrl).then(() => starting.abort());
    },
  });
  await expect(run).rejects.toThrow(/abort/i);
  expect(lines.join("")).toMatch(/stopping nats-server/);
  expect(await natsAnswers(natsUrl)).toBe(false);
}, 60_000);

async function natsAnswersSoon(url: string): Promise<void> {
  await waitFor(() => natsAnswers(url, 200), { timeoutMs: 15_000, what: "the started nats-server" });
}
