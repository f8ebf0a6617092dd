import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { gatewayConfigSchema, localAuthEnabled } from "@gapfill/contracts";
import { ConfigError, loadConfig } from "@gapfill/kit";

const REPO_ROOT = new URL("../../..", import.meta.url).pathname;
/** What a production gateway needs besides a way to verify tokens. */
const PRODUCTION = { NODE_ENV: "production", PUBLIC_BASE_URL: "https://api.example.com" };
const CURSOR_SECRET = "cursor-secret-0123456789abcdef0123456789";

function refusal(env: Record<string, string>): string {
  try {
    loadConfig(gatewayConfigSchema, "gateway", env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("the config was accepted");
}

describe("LOCAL_AUTH", () => {
  it("is on by default outside production, and off by default with NODE_ENV=production", () => {
    expect(localAuthEnabled(loadConfig(gatewayConfigSchema, "gateway", {}))).toBe(true);
    expect(localAuthEnabled(loadConfig(gatewayConfigSchema, "gateway", { NODE_ENV: "development" }))).toBe(true);
    expect(localAuthEnabled(loadConfig(gatewayConfigSchema, "gateway", { ...PRODUCTION, LOCAL_AUTH: "true" }))).toBe(true);
    const supabase = loadConfig(gatewayConfigSchema, "gateway", {
      ...PRODUCTION,
      SUPABASE_URL: "https://p.supabase.co",
      SUPABASE_ANON_KEY: "sb_publishable_reads",
      CURSOR_SECRET: CURSOR_SECRET,
    });
    expect(localAuthEnabled(supabase)).toBe(false);
  });

  it.each([
    ["NODE_ENV=production without LOCAL_AUTH", { NODE_ENV: "production" }],
    ["LOCAL_AUTH=false", { LOCAL_AUTH: "false" }],
  ])("refuses %s without SUPABASE_URL, naming both variables", (_name, env) => {
    const message = refusal(env);
    expect(message).toMatch(/LOCAL_AUTH: /);
    expect(message).toContain("SUPABASE_URL");
  });

  it("stops the gateway process at start with exit status 78 when it has no way to verify tokens", () => {
    const run = spawnSync(process.execPath, ["--import", "tsx", "services/gateway/src/main.ts"], {
      cwd: REPO_ROOT,
      // Nothing listens on port 1: should the config pass, the process fails on NATS instead of serving.
      env: { PATH: process.env.PATH, NODE_ENV: "production", NATS_URL: "nats://127.0.0.1:1", PORT: "0", LOG_LEVEL: "silent" },
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(run.status).toBe(78);
    expect(run.stderr).toMatch(/LOCAL_AUTH: .*SUPABASE_URL/);
  });
});
