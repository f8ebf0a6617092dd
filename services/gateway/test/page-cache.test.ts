import { brotliDecompressSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BAR_COLUMNS,
  BAR_MS,
  gatewayConfigSchema,
  lastClosedBarTs,
  type BootstrapColumnsPage,
  type BootstrapPage,
  type ClosedBar,
} from "@gapfill/contracts";
import { ConfigError, loadConfig, type BarPageQuery } from "@gapfill/kit";
import { testBars } from "@gapfill/testkit";
import { countingReads, createGatewayTestEnv, startGateway, SYMBOL, type GatewayTestEnv, type RunningGateway } from "./support/env.ts";
import { LOCAL_SECRET, localToken } from "./support/session.ts";

let env: GatewayTestEnv;
let gw: RunningGateway;
let bearer: Record<string, string>;
const reads: BarPageQuery[] = [];
/** Recent bars, so the gateway's in-memory window (a day) covers them: 600 in the stream and the table. */
const series = testBars(SYMBOL, lastClosedBarTs(Date.now()) - 900 * BAR_MS, 700, 21);
const history = series.slice(0, 600);
let nextBar = 600;

beforeAll(async () => {
  env = await createGatewayTestEnv();
  await env.publishBars(history);
  await env.store.upsertBars(history);
  gw = await startGateway(env, { config: env.config({ LOCAL_JWT_SECRET: LOCAL_SECRET, BOOTSTRAP_PER_MINUTE: "100000" }), store: countingReads(env.store, reads) });
  bearer = { authorization: `Bearer ${await localToken("cache")}` };
});

afterAll(async () => {
  await gw?.close();
  await env?.cleanup();
});

function get(query: string, headers: Record<string, string> = {}) {
  return gw.app.inject({ method: "GET", url: `/bootstrap?${query}`, headers: { ...bearer, ...headers } });
}

/** The recorder's part once a bar is in the stream: commit it, then tell gateways (a hint they may miss). */
async function commit(bar: ClosedBar): Promise<void> {
  await env.store.upsertBars([bar]);
  env.nc.publish(env.names.subjects.recorded(bar.symbol));
}

/** A new bar as it happens: in the stream first, then committed to the table. */
async function record(bar: ClosedBar): Promise<void> {
  await env.publishBars([bar]);
  await commit(bar);
}

function fromColumns(page: BootstrapColumnsPage): ClosedBar[] {
  return page.ts.map((_, i) => {
    const bar: Record<string, unknown> = { symbol: page.symbol };
    for (const field of BAR_COLUMNS) bar[field] = page[field][i];
    return bar as ClosedBar;
  });
}

describe("the encoded page cache", () => {
  it("answers a repeated page from memory, and never leaves out a bar recorded since (newest and bounded pages)", async () => {
    const bounded = `to_ts=${history[550]!.ts}&limit=100`;
    for (let round = 0; round < 5; round++) {
      const before = await get("limit=100");
      const again = await get("limit=100");
      expect(again.headers["server-timing"]).toContain('desc="cache"');
      expect(again.body).toBe(before.body);
      expect((await get(bounded)).statusCode).toBe(200);

      const bar = series[nextBar++]!;
      const readsBefore = reads.length;
      await record(bar);
      const after = (await get("limit=100")).json() as BootstrapPage;
      expect(after.bars[0]).toEqual(bar);
      expect(after.bars.slice(1)).toEqual((before.json() as BootstrapPage).bars.slice(0, 99));
      // A page the new bar cannot change stays cached.
      expect((await get(bounded)).headers["server-timing"]).toContain('desc="cache"');
      expect(reads.length - readsBefore).toBe(1);
    }
  });

  it("answers If-None-Match with 304 only while the page is unchanged, per content coding, without reading the store", async () => {
    const first = await get("limit=50");
    const etag = String(first.headers.etag);
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
    expect(first.headers.vary).toBe("authorization, accept-encoding");
    const br = await get("limit=50", { "accept-encoding": "br" });
    const brEtag = String(br.headers.etag);
    expect(brEtag).toBe(`${etag.slice(0, -1)}-br"`);
    expect(brotliDecompressSync(br.rawPayload).toString()).toBe(first.body);

    const readsBefore = reads.length;
    const notModified = await get("limit=50", { "if-none-match": etag });
    expect(notModified.statusCode).toBe(304);
    expect(notModified.body).toBe("");
    expect((await get("limit=50", { "if-none-match": brEtag, "accept-encoding": "br" })).statusCode).toBe(304);
    // Another coding's tag does not name this representation.
    expect((await get("limit=50", { "if-none-match": etag, "accept-encoding": "br" })).statusCode).toBe(200);
    expect(reads.length).toBe(readsBefore);

    await record(series[nextBar++]!);
    const changed = await get("limit=50", { "if-none-match": etag });
    expect(changed.statusCode).toBe(200);
    const newEtag = String(changed.headers.etag);
    expect(newEtag).not.toBe(etag);
    expect((await get("limit=50", { "if-none-match": `W/${newEtag}` })).statusCode).toBe(304);
  });

  it("shares one store read among concurrent requests for the same uncached page", async () => {
    for (const query of [`to_ts=${history[400]!.ts}&limit=300`, "limit=250", `limit=200&format=columns`]) {
      const readsBefore = reads.length;
      const responses = await Promise.all(Array.from({ length: 200 }, () => get(query)));
      expect(new Set(responses.map((r) => r.statusCode))).toEqual(new Set([200]));
      expect(new Set(responses.map((r) => r.body)).size).toBe(1);
      // The page itself, and the seam when the page has an upper bound (whether it is immutable).
      expect(reads.length - readsBefore).toBe(query.startsWith("to_ts") ? 2 : 1);
    }
  });

  it("keeps pages that lack bars the stream has out of the cache until the table has them", async () => {
    const bar = series[nextBar++]!;
    await env.publishBars([bar]);
    const lacking = (await get("limit=20")).json() as BootstrapPage;
    expect(lacking.bars[0]!.ts).toBe(bar.ts - BAR_MS);
    await commit(bar);
    const complete = await get("limit=20");
    expect((complete.json() as BootstrapPage).bars[0]).toEqual(bar);
    expect(complete.headers["server-timing"]).toContain('desc="store"');
    expect((await get("limit=20")).headers["server-timing"]).toContain('desc="cache"');
  });
});

describe("format=columns", () => {
  async function walk(format: "rows" | "columns"): Promise<{ bars: ClosedBar[]; cursors: (string | null)[] }> {
    const bars: ClosedBar[] = [];
    const cursors: (string | null)[] = [];
    let query = `limit=170&format=${format}&to_ts=${history[580]!.ts}`;
    for (;;) {
      const response = await get(query);
      expect(response.statusCode).toBe(200);
      const body = response.json() as BootstrapPage | BootstrapColumnsPage;
      bars.push(...("bars" in body ? body.bars : fromColumns(body)));
      cursors.push(body.next_cursor);
      if (body.next_cursor === null) return { bars, cursors };
      query = `cursor=${body.next_cursor}&limit=170&format=${format}`;
    }
  }

  it("returns the same bars as the row format, in parallel arrays, with the same cursors", async () => {
    const rows = await walk("rows");
    const columns = await walk("columns");
    expect(rows.bars).toHaveLength(581);
    expect(columns).toEqual(rows);
    const one = (await get("limit=3&format=columns")).json() as BootstrapColumnsPage;
    expect(Object.keys(one)).toEqual(["symbol", ...BAR_COLUMNS, "next_cursor"]);
    const rowsBytes = (await get("limit=500")).rawPayload.length;
    const columnsBytes = (await get("limit=500&format=columns")).rawPayload.length;
    expect(columnsBytes).toBeLessThan(rowsBytes * 0.7);
  });

  it("is documented in OpenAPI and refuses other formats", async () => {
    const spec = (await gw.app.inject({ method: "GET", url: "/openapi.json" })).json() as {
      paths: Record<string, { get: { parameters: { name: string; schema: { enum?: string[] } }[]; responses: Record<string, unknown> } }>;
    };
    const route = spec.paths["/bootstrap"]!.get;
    expect(route.parameters.find((p) => p.name === "format")?.schema.enum).toEqual(["rows", "columns"]);
    expect(JSON.stringify(route.responses["200"])).toContain("taker_buy_volume");
    expect(JSON.stringify(route.responses["200"])).toContain('"ts"');
    const bad = await get("format=csv");
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain("must be rows or columns");
  });
});

describe("BOOTSTRAP_CACHE_MB", () => {
  it("is refused with the variable named when it is not a size in MiB", () => {
    expect(() => loadConfig(gatewayConfigSchema, "gateway", { BOOTSTRAP_CACHE_MB: "-1" })).toThrow(ConfigError);
    expect(() => loadConfig(gatewayConfigSchema, "gateway", { BOOTSTRAP_CACHE_MB: "lots" })).toThrow(/BOOTSTRAP_CACHE_MB: expected an integer from 0 to 65536/);
  });

  it("0 turns the cache off: every page is read again", async () => {
    const uncached = await startGateway(env, { config: env.config({ LOCAL_JWT_SECRET: LOCAL_SECRET, BOOTSTRAP_CACHE_MB: "0" }) });
    try {
      for (let i = 0; i < 2; i++) {
        const response = await uncached.app.inject({ method: "GET", url: "/bootstrap?limit=10", headers: bearer });
        expect(response.headers["server-timing"]).toContain('desc="store"');
      }
    } finally {
      await uncached.close();
    }
  });
});
