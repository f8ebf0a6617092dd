import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { gatewayConfigSchema, localAuthEnabled, openApiUiEnabled } from "@gapfill/contracts";
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

describe("NODE_ENV=production", () => {
  const local = { NODE_ENV: "production", LOCAL_AUTH: "true" };
  const jwksOnly = { ...PRODUCTION, SUPABASE_URL: "https://p.supabase.co", SUPABASE_ANON_KEY: "sb_publishable_reads" };

  it("requires PUBLIC_BASE_URL or ALLOWED_HOSTS, so no Host header ends up in the URLs handed out", () => {
    const message = refusal(local);
    expect(message).toMatch(/PUBLIC_BASE_URL: required when NODE_ENV=production/);
    expect(message).toContain("ALLOWED_HOSTS");
    expect(loadConfig(gatewayConfigSchema, "gateway", { ...local, PUBLIC_BASE_URL: "https://api.example.com" }).PUBLIC_BASE_URL).toBe(
      "https://api.example.com",
    );
    expect(loadConfig(gatewayConfigSchema, "gateway", { ...local, ALLOWED_HOSTS: "API.example.com, localhost:8000" }).ALLOWED_HOSTS).toEqual([
      "api.example.com",
      "localhost:8000",
    ]);
  });

  it("requires a cursor secret when tokens are verified by JWKS only: CURSOR_SECRET, or SUPABASE_JWT_SECRET", () => {
    expect(refusal(jwksOnly)).toMatch(/CURSOR_SECRET: required when NODE_ENV=production and SUPABASE_URL is set without SUPABASE_JWT_SECRET/);
    expect(loadConfig(gatewayConfigSchema, "gateway", { ...jwksOnly, CURSOR_SECRET }).CURSOR_SECRET).toBe(CURSOR_SECRET);
    expect(loadConfig(gatewayConfigSchema, "gateway", { ...jwksOnly, SUPABASE_JWT_SECRET: "legacy-jwt-secret-0123456789" })).toBeDefined();
    // Outside production a secret is generated into DATA_DIR instead.
    expect(loadConfig(gatewayConfigSchema, "gateway", { ...jwksOnly, NODE_ENV: "development" })).toBeDefined();
    expect(refusal({ ...jwksOnly, CURSOR_SECRET: "short" })).toMatch(/CURSOR_SECRET: expected at least 32 characters/);
  });

  it("turns the OpenAPI UI off unless OPENAPI_UI asks for it", () => {
    expect(openApiUiEnabled(loadConfig(gatewayConfigSchema, "gateway", {}))).toBe(true);
    expect(openApiUiEnabled(loadConfig(gatewayConfigSchema, "gateway", { ...local, ...PRODUCTION }))).toBe(false);
    expect(openApiUiEnabled(loadConfig(gatewayConfigSchema, "gateway", { ...local, ...PRODUCTION, OPENAPI_UI: "true" }))).toBe(true);
    expect(openApiUiEnabled(loadConfig(gatewayConfigSchema, "gateway", { OPENAPI_UI: "false" }))).toBe(false);
  });

  it("stops the gateway process at start with exit status 78 naming PUBLIC_BASE_URL when it is missing", () => {
    const run = spawnSync(process.execPath, ["--import", "tsx", "services/gateway/src/main.ts"], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, ...local, NATS_URL: "nats://127.0.0.1:1", PORT: "0", LOG_LEVEL: "silent" },
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(run.status).toBe(78);
    expect(run.stderr).toMatch(/PUBLIC_BASE_URL: required when NODE_ENV=production/);
  });
});
