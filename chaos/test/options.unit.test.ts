import { expect, it } from "vitest";
import { ConfigError, loadConfig } from "@gapfill/kit";
import { chaosConfigSchema } from "../src/options.ts";

it("defaults to a 10-minute soak of seed 1 with 20 clients", () => {
  expect(loadConfig(chaosConfigSchema, "chaos", {})).toEqual({ CHAOS_MINUTES: 10, CHAOS_SEED: 1, CHAOS_CLIENTS: 20 });
  expect(loadConfig(chaosConfigSchema, "chaos", { CHAOS_MINUTES: "2.5", CHAOS_SEED: "9" })).toMatchObject({ CHAOS_MINUTES: 2.5, CHAOS_SEED: 9 });
});

it("names the variable and what it expects when a setting is bad", () => {
  const bad = () => loadConfig(chaosConfigSchema, "chaos", { CHAOS_MINUTES: "1", CHAOS_SEED: "x" });
  expect(bad).toThrow(ConfigError);
  expect(bad).toThrow(/CHAOS_MINUTES: expected a number from 2 to 1440 \(got "1"\)/);
  expect(bad).toThrow(/CHAOS_SEED: expected an integer from 0 to 2147483647 \(got "x"\)/);
});
