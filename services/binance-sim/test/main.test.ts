import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "@gapfill/testkit";
import { getJson } from "./support.ts";
import { TYPESCRIPT_NODE_ARGS } from "@gapfill/kit";

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const env = (extra: Record<string, string>) => ({ ...process.env, LOG_FORMAT: "json", LOG_LEVEL: "info", SIM_PORT: "0", SIM_HISTORY_HOURS: "0.1", ...extra });
let child: ChildProcess | null = null;
afterEach(() => {
  if (child && child.exitCode === null) child.kill("SIGKILL");
  child = null;
});

describe("npm run sim (src/main.ts)", () => {
  it("reads its config, serves Binance's API, and stops cleanly on SIGTERM", async () => {
    const lines: { msg?: string; restUrl?: string }[] = [];
    child = spawn(process.execPath, [...TYPESCRIPT_NODE_ARGS, main], { env: env({ SIM_NOW: "1700000000000", SIM_SPEED: "0" }), stdio: ["ignore", "pipe", "pipe"] });
    let buffered = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const parts = buffered.split("\n");
      buffered = parts.pop()!;
      for (const line of parts) if (line.trim()) lines.push(JSON.parse(line));
    });
    const exited = new Promise<number | null>((resolve) => child!.on("exit", (code) => resolve(code)));
    const listening = await waitFor(() => lines.find((line) => line.restUrl), { timeoutMs: 30_000, what: "the listening log line" });
    expect(listening.msg).toMatch(/SIMULATED/);
    expect((await getJson(`${listening.restUrl}/api/v3/time`)).body).toEqual({ serverTime: 1_700_000_000_000 });
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });

  it("refuses to start on a bad variable, naming it", () => {
    const run = spawnSync(process.execPath, [...TYPESCRIPT_NODE_ARGS, main], { env: env({ SIM_SPEED: "fast" }), encoding: "utf8" });
    expect(run.status).toBe(78);
    expect(run.stderr).toContain("SIM_SPEED: expected a number from 0 to 10000");
  });
});
