import { describe, expect, it } from "vitest";
import { simConfigSchema } from "@gapfill/contracts";
import { ConfigError, loadConfig } from "@gapfill/kit";

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(simConfigSchema, "binance-sim", env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.variable}: ${p.message}`);
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("simulator configuration", () => {
  it("has Binance's defaults", () => {
    expect(loadConfig(simConfigSchema, "binance-sim", {})).toEqual({
      LOG_LEVEL: "info",
      BINANCE_SYMBOL: ["BTCUSDT"],
      SIM_PORT: 9090,
      SIM_HOST: "127.0.0.1",
      SIM_SEED: 1,
      SIM_HISTORY_HOURS: 24,
      SIM_SPEED: 1,
      SIM_WS_LIFETIME_MS: 86_400_000,
      SIM_WS_PING_INTERVAL_MS: 20_000,
      SIM_WS_PONG_TIMEOUT_MS: 60_000,
      SIM_WEIGHT_LIMIT: 6000,
      SIM_EMPTY_KLINES: "include",
    });
  });

  it("reads a fixed now as epoch ms or ISO date, and initial faults as JSON", () => {
    const config = loadConfig(simConfigSchema, "binance-sim", {
      SIM_NOW: "2024-01-01T00:00:00Z",
      SIM_FAULTS: '{"wsDropEveryMs":30000,"restErrorBurst":{"status":429,"count":3}}',
      BINANCE_SYMBOL: "btcusdt,ethusdt",
      SIM_SPEED: "0",
    });
    expect(config.SIM_NOW).toBe(Date.UTC(2024, 0, 1));
    expect(config.SIM_FAULTS).toEqual({ wsDropEveryMs: 30_000, restErrorBurst: { status: 429, count: 3 } });
    expect(config.BINANCE_SYMBOL).toEqual(["BTCUSDT", "ETHUSDT"]);
    expect(loadConfig(simConfigSchema, "binance-sim", { SIM_NOW: "1700000000000" }).SIM_NOW).toBe(1_700_000_000_000);
  });

  it("names each bad variable", () => {
    expect(problemsOf({ SIM_NOW: "yesterday", SIM_SPEED: "-1", SIM_EMPTY_KLINES: "maybe", SIM_FAULTS: "{oops" })).toEqual([
      expect.stringMatching(/^SIM_NOW: expected epoch milliseconds or an ISO-8601 date/),
      expect.stringMatching(/^SIM_SPEED: expected a number from 0 to 10000/),
      expect.stringMatching(/^SIM_EMPTY_KLINES: expected include or omit/),
      expect.stringMatching(/^SIM_FAULTS: expected a JSON object/),
    ]);
    expect(problemsOf({ SIM_FAULTS: '{"wsDelayMs":-5}' })).toEqual([expect.stringMatching(/^SIM_FAULTS: /)]);
    expect(problemsOf({ SIM_FAULTS: '{"dropEvery":5}' })).toEqual([expect.stringMatching(/^SIM_FAULTS: /)]);
  });
});
