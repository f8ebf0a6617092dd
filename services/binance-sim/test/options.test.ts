import { describe, expect, it } from "vitest";
import { simConfigSchema, simKnobs } from "@gapfill/contracts";
import { loadConfig } from "@gapfill/kit";
import { resolveSimOptions } from "../src/options.ts";

/** The `SIM_*` variable of each knob `startSim()` shares with the environment. */
const variables = {
  seed: "SIM_SEED",
  historyHours: "SIM_HISTORY_HOURS",
  speed: "SIM_SPEED",
  wsLifetimeMs: "SIM_WS_LIFETIME_MS",
  pingIntervalMs: "SIM_WS_PING_INTERVAL_MS",
  pongTimeoutMs: "SIM_WS_PONG_TIMEOUT_MS",
  weightLimit: "SIM_WEIGHT_LIMIT",
} as const satisfies Record<keyof typeof simKnobs, string>;
const knobs = Object.entries(variables) as [keyof typeof simKnobs, string][];

describe("startSim options and SIM_* variables", () => {
  it.each(knobs)("share the default and lower bound of %s", (knob, variable) => {
    const { default: fallback, min } = simKnobs[knob];
    const fromEnv = loadConfig(simConfigSchema, "binance-sim", {}) as Record<string, unknown>;
    expect(resolveSimOptions({})[knob]).toBe(fallback);
    expect(fromEnv[variable]).toBe(fallback);
    expect(resolveSimOptions({ [knob]: min })[knob]).toBe(min);
    expect(() => resolveSimOptions({ [knob]: min - 1 })).toThrow(new RegExp(knob));
    expect(() => loadConfig(simConfigSchema, "binance-sim", { [variable]: String(min - 1) })).toThrow(new RegExp(variable));
  });

  it.each(knobs.filter(([knob]) => knob !== "weightLimit"))("share the upper bound of %s", (knob, variable) => {
    const { max } = simKnobs[knob];
    expect(resolveSimOptions({ [knob]: max })[knob]).toBe(max);
    expect(() => resolveSimOptions({ [knob]: max + 1 })).toThrow(new RegExp(knob));
    expect(() => loadConfig(simConfigSchema, "binance-sim", { [variable]: String(max + 1) })).toThrow(new RegExp(variable));
  });
});
