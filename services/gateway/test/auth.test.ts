import { spawnSync } from "node:child_process";
import { createPublicKey, type JsonWebKey } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pino } from "pino";
import type { SessionStartResponse } from "@gapfill/contracts";
import { createTokenVerifier } from "../src/auth.ts";
import { LOCAL_SECRET_FILE } from "../src/local-mode.ts";
import { capturingLogger } from "@gapfill/testkit";
import { createGatewayTestEnv, startGateway, type GatewayTestEnv, type RunningGateway } from "./support/env.ts";
import { FakeSupabaseAuth, newProjectKey, signToken, type ProjectKey } from "./support/jwks.ts";

const HS_SECRET = "legacy-project-jwt-secret-0123456789abcdef";
const hsKey = { alg: "HS256" as const, secret: new TextEncoder().encode(HS_SECRET) };

let env: GatewayTestEnv;
let auth: FakeSupabaseAuth;
let gw: RunningGateway;
let es: ProjectKey;
let rs: ProjectKey;
const logLines: string[] = [];

beforeAll(async () => {
  env = await createGatewayTestEnv();
  auth = await FakeSupabaseAuth.start();
  es = await newProjectKey("ES256", "es-1");
  rs = await newProjectKey("RS256", "rs-1");
  auth.publish(es, rs);
  const log = pino(
    { level: "debug", redact: ["req.headers.authorization"] },
    new Writable({ write: (chunk, _enc, done) => (logLines.push(String(chunk)), done()) }),
  );
  gw = await startGateway(env, {
    config: env.config({ SUPABASE_URL: auth.url, SUPABASE_JWT_SECRET: HS_SECRET }),
    tuning: { jwksCooldownMs: 0 },
    log,
  });
});

afterAll(async () => {
  await gw?.close();
  await auth?.close();
  await env?.cleanup();
});

function asKey(key: ProjectKey) {
  return { alg: key.alg, kid: key.kid, secret: key.privateKey };
}

async function start(token: string | undefined, app = gw) {
  return app.app.inject({
    method: "POST",
    url: "/session/start",
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
}

function errorCode(response: { json: () => unknown }): string {
  return (response.json() as { error: { code: string } }).error.code;
}

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");

describe("POST /session/start token checks", () => {
  it.each([
    ["ES256 from the JWKS", () => asKey(es)],
    ["RS256 from the JWKS", () => asKey(rs)],
    ["HS256 with the legacy secret", () => hsKey],
  ])("accepts a valid %s token", async (_name, key) => {
    const token = await signToken(key(), { sub: "user-a" }, { issuer: auth.issuer });
    const response = await start(token);
    expect(response.statusCode).toBe(201);
    const body = response.json() as SessionStartResponse;
    expect(body.session_id).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(body.symbol).toBe("BTCUSDT");
    expect(body.supabase_last_ts).toBeNull();
    expect(body.stream_url).toBe(`http://localhost/stream/gap?session_id=${body.session_id}`);
    expect(body.expires_at).toBeGreaterThan(Date.now());
  });

  it("picks up a rotated key (new kid) by refetching the JWKS", async () => {
    const rotated = await newProjectKey("ES256", "es-2");
    auth.publish(rotated, rs);
    const fetches = auth.fetches;
    const response = await start(await signToken(asKey(rotated), { sub: "user-a" }, { issuer: auth.issuer }));
    expect(response.statusCode).toBe(201);
    expect(auth.fetches).toBeGreaterThan(fetches);
    // The retired key no longer verifies once the JWKS without it has been fetched.
    const retired = await start(await signToken(asKey(es), { sub: "user-a" }, { issuer: auth.issuer }));
    expect(retired.statusCode).toBe(401);
    auth.publish(es, rs, rotated);
  });

  const now = () => Math.floor(Date.now() / 1000);
  it.each([
    ["an expired token", async () => signToken(asKey(es), { sub: "u", exp: now() - 60, iat: now() - 3660 }, { issuer: auth.issuer }), "token_expired"],
    ["a token whose nbf is in the future", async () => signToken(asKey(es), { sub: "u", nbf: now() + 600 }, { issuer: auth.issuer }), "invalid_token"],
    ["a token from another project (iss)", async () => signToken(asKey(es), { sub: "u" }, { issuer: "https://other.supabase.co/auth/v1" }), "invalid_token"],
    ["a token for another audience", async () => signToken(asKey(es), { sub: "u", aud: "anon" }, { issuer: auth.issuer }), "invalid_token"],
    ["a token without sub", async () => signToken(asKey(es), {}, { issuer: auth.issuer }), "invalid_token"],
    ["a token without exp", async () => signToken(asKey(es), { sub: "u", exp: undefined }, { issuer: auth.issuer }), "invalid_token"],
    [
      "an unsigned token (alg none)",
      async () => `${b64({ alg: "none", typ: "JWT" })}.${b64({ sub: "u", aud: "authenticated", iss: auth.issuer, exp: now() + 600 })}.`,
      "invalid_token",
    ],
    [
      "a tampered payload",
      async () => {
        const [header, , signature] = (await signToken(asKey(es), { sub: "u" }, { issuer: auth.issuer })).split(".");
        return `${header}.${b64({ sub: "admin", aud: "authenticated", iss: auth.issuer, exp: now() + 600 })}.${signature}`;
      },
      "invalid_token",
    ],
    [
      "a token with an unknown kid",
      async () => signToken({ ...asKey(es), kid: "nobody-knows" }, { sub: "u" }, { issuer: auth.issuer }),
      "invalid_token",
    ],
    ["garbage", async () => "not.a.jwt", "invalid_token"],
  ])("refuses %s with 401", async (_name, makeToken, code) => {
    const token = await makeToken();
    const response = await start(token);
    expect(response.statusCode).toBe(401);
    expect(errorCode(response)).toBe(code);
    expect(response.body).not.toContain(token);
  });

  it("refuses an HS256 token signed with the project's own RSA public key (algorithm confusion)", async () => {
    const pem = createPublicKey({ key: rs.publicJwk as JsonWebKey, format: "jwk" }).export({ type: "spki", format: "pem" });
    const token = await signToken({ alg: "HS256", kid: rs.kid, secret: new TextEncoder().encode(String(pem)) }, { sub: "u" }, { issuer: auth.issuer });
    const response = await start(token);
    expect(response.statusCode).toBe(401);
  });

  it("refuses requests without a bearer token", async () => {
    expect(errorCode(await start(undefined))).toBe("missing_token");
    const basic = await gw.app.inject({ method: "POST", url: "/session/start", headers: { authorization: "Basic dXNlcjpwYXNz" } });
    expect(basic.statusCode).toBe(401);
    expect(errorCode(basic)).toBe("invalid_authorization");
  });

  it("refuses a user outside SUPABASE_ALLOW_SUB with 403", async () => {
    const allowlisted = await startGateway(env, {
      config: env.config({ SUPABASE_URL: auth.url, SUPABASE_ALLOW_SUB: "user-ok, user-also-ok" }),
    });
    try {
      const ok = await start(await signToken(asKey(es), { sub: "user-ok" }, { issuer: auth.issuer }), allowlisted);
      expect(ok.statusCode).toBe(201);
      const refused = await start(await signToken(asKey(es), { sub: "user-x" }, { issuer: auth.issuer }), allowlisted);
      expect(refused.statusCode).toBe(403);
      expect(errorCode(refused)).toBe("user_not_allowed");
      // Without SUPABASE_JWT_SECRET, HS256 is not a path at all.
      const hs = await start(await signToken(hsKey, { sub: "user-ok" }, { issuer: auth.issuer }), allowlisted);
      expect(hs.statusCode).toBe(401);
    } finally {
      await allowlisted.close();
    }
  });

  it("keeps tokens and session ids out of the logs, and logs request ids", async () => {
    const token = await signToken(asKey(es), { sub: "log-user" }, { issuer: auth.issuer });
    const response = await start(token);
    const session = response.json() as SessionStartResponse;
    await gw.app.inject({ method: "GET", url: `/bootstrap?session_id=${session.session_id}` });
    await start(`${token}x`);
    const logs = logLines.join("");
    expect(logs).not.toContain(token.split(".")[2]!);
    expect(logs).not.toContain(session.session_id);
    expect(logs).toContain(`"req_id":"${response.headers["x-request-id"]}"`);
  });
});

describe("ownership", () => {
  it("refuses another user's session for bootstrap, stream and stop with 403", async () => {
    const alice = await signToken(asKey(es), { sub: "alice" }, { issuer: auth.issuer });
    const bob = await signToken(asKey(rs), { sub: "bob" }, { issuer: auth.issuer });
    const session = (await start(alice)).json() as SessionStartResponse;
    const asBob = { authorization: `Bearer ${bob}` };
    const bootstrap = await gw.app.inject({ method: "GET", url: `/bootstrap?session_id=${session.session_id}`, headers: asBob });
    expect(bootstrap.statusCode).toBe(403);
    expect(errorCode(bootstrap)).toBe("not_your_session");
    const stream = await gw.app.inject({ method: "GET", url: `/stream/gap?session_id=${session.session_id}`, headers: asBob });
    expect(stream.statusCode).toBe(403);
    const stop = await gw.app.inject({ method: "POST", url: "/session/stop", headers: asBob, payload: { session_id: session.session_id } });
    expect(stop.statusCode).toBe(403);
    expect(errorCode(stop)).toBe("not_your_session");
    // The owner can.
    const own = await gw.app.inject({
      method: "POST",
      url: "/session/stop",
      headers: { authorization: `Bearer ${alice}` },
      payload: { session_id: session.session_id },
    });
    expect(own.statusCode).toBe(200);
    expect(own.json()).toMatchObject({ session_id: session.session_id });
    const afterStop = await gw.app.inject({ method: "GET", url: `/bootstrap?session_id=${session.session_id}` });
    expect(afterStop.statusCode).toBe(410);
  });

  it("has no /dev/token in Supabase mode", async () => {
    const response = await gw.app.inject({ method: "POST", url: "/dev/token", payload: {} });
    expect(response.statusCode).toBe(404);
  });
});

describe("local mode (no SUPABASE_URL)", () => {
  it("accepts tokens from `npm run token` and POST /dev/token, signed with a 0600 secret in DATA_DIR", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "gapfill-gw-"));
    try {
      const local = await startGateway(env, { config: env.config({ DATA_DIR: dataDir }) });
      try {
        const secretFile = join(dataDir, LOCAL_SECRET_FILE);
        expect(statSync(secretFile).mode & 0o777).toBe(0o600);
        const cli = spawnSync("npm", ["run", "--silent", "token", "--", "--sub", "carol"], {
          cwd: new URL("../../..", import.meta.url).pathname,
          env: { ...process.env, DATA_DIR: dataDir, SUPABASE_URL: "" },
          encoding: "utf8",
        });
        expect(cli.stderr).toBe("");
        expect(cli.status).toBe(0);
        const cliToken = cli.stdout.trim();
        const viaCli = await start(cliToken, local);
        expect(viaCli.statusCode).toBe(201);

        const dev = await local.app.inject({ method: "POST", url: "/dev/token", payload: { sub: "dave" } });
        expect(dev.statusCode).toBe(200);
        const viaDev = await start((dev.json() as { access_token: string }).access_token, local);
        expect(viaDev.statusCode).toBe(201);
        // A Supabase-signed token is not accepted by a local-mode gateway.
        expect((await start(await signToken(asKey(es), { sub: "u" }, { issuer: auth.issuer }), local)).statusCode).toBe(401);
      } finally {
        await local.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("resolves a relative DATA_DIR against the repository root, so `npm run token` from any folder signs for the gateway", async () => {
    const repoRoot = new URL("../../..", import.meta.url).pathname;
    const gatewayDir = new URL("..", import.meta.url).pathname;
    const relative = `.data-test-${env.ns}`;
    const candidates = [resolve(repoRoot, relative), resolve(gatewayDir, relative), resolve(process.cwd(), relative)];
    try {
      // As `npm start -w @gapfill/gateway` would run: from services/gateway, not from the root.
      const cli = spawnSync(process.execPath, ["--import", "tsx", "src/token.ts", "--sub", "erin"], {
        cwd: gatewayDir,
        env: { ...process.env, DATA_DIR: relative, SUPABASE_URL: "", LOCAL_JWT_SECRET: "" },
        encoding: "utf8",
      });
      expect(cli.stderr).toBe("");
      expect(cli.status).toBe(0);
      const local = await startGateway(env, { config: env.config({ DATA_DIR: relative }) });
      try {
        expect(statSync(join(repoRoot, relative, LOCAL_SECRET_FILE)).isFile()).toBe(true);
        expect((await start(cli.stdout.trim(), local)).statusCode).toBe(201);
      } finally {
        await local.close();
      }
    } finally {
      for (const dir of candidates) rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("verified tokens", () => {
  it("a token verified once still expires, by the gateway's clock, at its exp", async () => {
    let clockMs = Date.now();
    const verifier = createTokenVerifier({ issuer: "https://p.supabase.co/auth/v1", hs256Secret: hsKey.secret, now: () => clockMs });
    const exp = Math.floor(clockMs / 1000) + 60;
    const token = await signToken(hsKey, { sub: "u1", exp, iat: exp - 120 }, { issuer: "https://p.supabase.co/auth/v1" });
    expect(await verifier.verify(token)).toEqual({ sub: "u1" });
    clockMs += 30_000;
    expect(await verifier.verify(token)).toEqual({ sub: "u1" });
    clockMs = (exp + 10) * 1000;
    await expect(verifier.verify(token)).rejects.toMatchObject({ statusCode: 401, code: "token_expired" });
  });
});

describe("a JWKS that cannot be fetched", () => {
  it("answers 503 auth_unavailable with Retry-After, and logs the host and the cause once, not per request", async () => {
    const { log, lines } = capturingLogger();
    // RFC 6761: a .invalid name never resolves.
    const jwksUrl = "http://auth.gapfill.invalid/auth/v1/.well-known/jwks.json";
    const unreachable = await startGateway(env, { config: env.config({ SUPABASE_URL: auth.url, SUPABASE_JWKS_URL: jwksUrl }), log });
    try {
      const token = await signToken(asKey(es), { sub: "user-a" }, { issuer: auth.issuer });
      for (let i = 0; i < 3; i++) {
        const response = await start(token, unreachable);
        expect(response.statusCode).toBe(503);
        expect(errorCode(response)).toBe("auth_unavailable");
        expect(response.headers["retry-after"]).toBe("5");
      }
      const jwksLines = lines.filter((line) => String(line.msg).startsWith("JWKS"));
      expect(jwksLines.map((line) => [line.level, line.msg])).toEqual([
        [40, "JWKS failing (auth.gapfill.invalid): fetch failed: getaddrinfo ENOTFOUND auth.gapfill.invalid"],
        [20, "JWKS still failing"],
        [20, "JWKS still failing"],
      ]);
      expect(jwksLines[0]).toMatchObject({ jwksUrl });
    } finally {
      await unreachable.close();
    }
  });
});
