import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BAR_MS, lastClosedBarTs } from "@gapfill/contracts";
import { testBars } from "@gapfill/testkit";
import { cursorKeyFrom, encodeCursor } from "../src/cursor.ts";
import { CURSOR_SECRET_FILE } from "../src/cursor-secret.ts";
import { createGatewayTestEnv, startGateway, SYMBOL, type GatewayTestEnv, type RunningGateway } from "./support/env.ts";
import { FakeSupabaseAuth, newProjectKey, signToken, type ProjectKey } from "./support/jwks.ts";

let env: GatewayTestEnv;
let auth: FakeSupabaseAuth;
let key: ProjectKey;
let headers: Record<string, string>;
let dataDir: string;
const gateways: RunningGateway[] = [];
const START = lastClosedBarTs(Date.now()) - 500 * BAR_MS;

beforeAll(async () => {
  env = await createGatewayTestEnv();
  await env.store.upsertBars(testBars(SYMBOL, START, 50, 4));
  auth = await FakeSupabaseAuth.start();
  key = await newProjectKey("ES256", "k1");
  auth.publish(key);
  headers = { authorization: `Bearer ${await signToken({ alg: "ES256", kid: key.kid, secret: key.privateKey }, { sub: "reader" }, { issuer: auth.issuer })}` };
  dataDir = await mkdtemp(join(tmpdir(), "gapfill-cursor-"));
});

afterAll(async () => {
  for (const gw of gateways) await gw.close();
  await auth?.close();
  await env?.cleanup();
  await rm(dataDir, { recursive: true, force: true });
});

/** A gateway verifying tokens with the fake project's JWKS only: no HS256 secret, no local mode. */
async function jwksOnlyGateway(extra: Record<string, string> = {}): Promise<RunningGateway> {
  const gw = await startGateway(env, { config: env.config({ SUPABASE_URL: auth.url, DATA_DIR: dataDir, ...extra }) });
  gateways.push(gw);
  return gw;
}

async function firstCursor(gw: RunningGateway): Promise<string> {
  const response = await gw.app.inject({ url: "/bootstrap?limit=10", headers });
  expect(response.statusCode).toBe(200);
  return (response.json() as { next_cursor: string }).next_cursor;
}

const pageWith = (gw: RunningGateway, cursor: string) => gw.app.inject({ url: `/bootstrap?limit=10&cursor=${cursor}`, headers });

describe("bootstrap cursor key in a JWKS-only deployment", () => {
  it("refuses a cursor forged with the deployment's public settings, and serves its own", async () => {
    const gw = await jwksOnlyGateway();
    expect((await pageWith(gw, await firstCursor(gw))).statusCode).toBe(200);
    // What the key used to be derived from: SUPABASE_URL and the namespace, both public.
    const publicKey = cursorKeyFrom(`${auth.url}|${env.ns}`);
    const forged = encodeCursor({ symbol: SYMBOL, before: START + 40 * BAR_MS, fromTs: null, toTs: null }, publicKey);
    const refused = await pageWith(gw, forged);
    expect(refused.statusCode).toBe(400);
    expect(refused.json()).toMatchObject({ error: { code: "invalid_cursor" } });
  });

  it("outside production, keeps a generated secret in DATA_DIR (mode 0600) that every process there shares", async () => {
    const [first, second] = [await jwksOnlyGateway(), await jwksOnlyGateway()];
    const file = await stat(join(dataDir, CURSOR_SECRET_FILE));
    expect(file.mode & 0o777).toBe(0o600);
    expect((await pageWith(second, await firstCursor(first))).statusCode).toBe(200);
  });

  it("with CURSOR_SECRET, replicas share cursors whatever their DATA_DIR, and a gateway with another secret refuses them", async () => {
    const secret = "cursor-secret-0123456789abcdef0123456789";
    const other = await mkdtemp(join(tmpdir(), "gapfill-cursor-other-"));
    try {
      const one = await jwksOnlyGateway({ CURSOR_SECRET: secret });
      const two = await jwksOnlyGateway({ CURSOR_SECRET: secret, DATA_DIR: other });
      const stranger = await jwksOnlyGateway({ CURSOR_SECRET: `${secret}-other` });
      const cursor = await firstCursor(one);
      expect((await pageWith(two, cursor)).statusCode).toBe(200);
      expect((await pageWith(stranger, cursor)).json()).toMatchObject({ error: { code: "invalid_cursor" } });
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });
});
