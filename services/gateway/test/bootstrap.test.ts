import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BAR_MS, lastClosedBarTs, type BootstrapPage, type ClosedBar, type SessionStartResponse } from "@gapfill/contracts";
import { RawSseClient, TEST_SERIES_START, testBars, waitFor } from "@gapfill/testkit";
import { createGatewayTestEnv, startGateway, SYMBOL, type GatewayTestEnv, type RunningGateway } from "./support/env.ts";
import { LOCAL_SECRET, localToken, startSession } from "./support/session.ts";

let env: GatewayTestEnv;
let gw: RunningGateway;
let bearer: Record<string, string>;
const stored = testBars(SYMBOL, TEST_SERIES_START, 12_345, 3);
const newestFirst = [...stored].reverse();
/** A symbol whose table is empty when the test starts. */
const EMPTY = "ETHUSDT";

beforeAll(async () => {
  env = await createGatewayTestEnv();
  await env.store.upsertBars(stored);
  gw = await startGateway(env, { config: env.config({ LOCAL_JWT_SECRET: LOCAL_SECRET, BINANCE_SYMBOL: `${SYMBOL},${EMPTY}` }), listen: true });
  bearer = { authorization: `Bearer ${await localToken("walker")}` };
});

afterAll(async () => {
  await gw?.close();
  await env?.cleanup();
});

async function page(query: string, headers: Record<string, string> = bearer) {
  const response = await gw.app.inject({ method: "GET", url: `/bootstrap?${query}`, headers });
  return { response, body: response.statusCode === 200 ? (response.json() as BootstrapPage) : null };
}

/** Follows next_cursor from the first page to the last, keeping the credentials and limit of the first query. */
async function walk(firstQuery: string, headers: Record<string, string> = bearer): Promise<{ bars: ClosedBar[]; pages: number }> {
  const first = new URLSearchParams(firstQuery);
  const carried = new URLSearchParams();
  for (const name of ["limit", "session_id"]) if (first.has(name)) carried.set(name, first.get(name)!);
  const bars: ClosedBar[] = [];
  let query = firstQuery;
  let pages = 0;
  for (;;) {
    const { response, body } = await page(query, headers);
    expect(response.statusCode).toBe(200);
    pages++;
    bars.push(...body!.bars);
    if (body!.next_cursor === null) return { bars, pages };
    query = `cursor=${body!.next_cursor}&${carried}`;
  }
}

describe("GET /bootstrap", () => {
  it("walks every stored bar exactly once, newest to oldest, following next_cursor", async () => {
    const { bars, pages } = await walk("limit=1000");
    expect(pages).toBe(13);
    expect(bars).toEqual(newestFirst);
  });

  it("serves full 5,000-bar pages by default (never silently short)", async () => {
    const { body } = await page("");
    expect(body!.bars).toHaveLength(5000);
    expect(body!.bars).toEqual(newestFirst.slice(0, 5000));
    const { bars, pages } = await walk("");
    expect(pages).toBe(3);
    expect(bars).toEqual(newestFirst);
  });

  it("keeps from_ts and to_ts (inclusive) across the whole walk", async () => {
    const from = stored[100]!.ts;
    const to = stored[2100]!.ts;
    const { bars } = await walk(`from_ts=${from}&to_ts=${to}&limit=300`);
    expect(bars).toEqual(newestFirst.filter((b) => b.ts >= from && b.ts <= to));
  });

  it("with a session, ends pages at the session's supabase_last_ts so the gap stream can take over", async () => {
    const start = await gw.app.inject({ method: "POST", url: "/session/start", headers: bearer });
    const session = start.json() as SessionStartResponse;
    expect(session.supabase_last_ts).toBe(stored.at(-1)!.ts);
    // The recorder writes newer bars after the session started: they belong to the gap stream, not bootstrap.
    const later = testBars(SYMBOL, stored.at(-1)!.ts + BAR_MS, 5, 3).map((b, i) => ({ ...b, ts: stored.at(-1)!.ts + (i + 1) * BAR_MS }));
    await env.store.upsertBars(later);
    const { bars } = await walk(`session_id=${session.session_id}&limit=5000`, {});
    expect(bars).toEqual(newestFirst);
    const { body } = await page("limit=1");
    expect(body!.bars[0]!.ts).toBe(later.at(-1)!.ts);
  });

  it("with a session started on an empty table, serves no bars unless to_ts is given: the gap stream has them all", async () => {
    const bars = testBars(EMPTY, lastClosedBarTs(Date.now()) - 20 * BAR_MS, 10, 4);
    await env.publishBars(bars);
    const session = await startSession(gw.url, await localToken("walker"), { symbol: EMPTY });
    expect(session.supabase_last_ts).toBeNull();
    // The recorder writes the bars after the session started.
    await env.store.upsertBars(bars);
    const { response, body } = await page(`session_id=${session.session_id}`, {});
    expect(body).toEqual({ symbol: EMPTY, bars: [], next_cursor: null });
    expect(response.headers["cache-control"]).toBe("private, no-cache");
    const stream = await RawSseClient.open(`${session.stream_url}&to_ts=${bars.at(-1)!.ts}`);
    await waitFor(() => stream.closed, { what: "the gap stream to reach to_ts" });
    expect(stream.named("bar").map((e) => JSON.parse(e.data) as ClosedBar)).toEqual(bars);
    // An explicit to_ts still reads the table.
    const bounded = await page(`session_id=${session.session_id}&to_ts=${bars.at(-1)!.ts}`, {});
    expect(bounded.body!.bars).toEqual([...bars].reverse());
  });

  it("marks pages that can no longer change as long-lived, revalidates the others by ETag", async () => {
    const newest = await page("limit=10");
    expect(newest.response.headers["cache-control"]).toBe("private, no-cache");
    const etag = String(newest.response.headers.etag);
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
    const again = await gw.app.inject({ method: "GET", url: "/bootstrap?limit=10", headers: { ...bearer, "if-none-match": etag } });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe("");

    // Just below the newest bars: a hole the recorder has not filled yet could still be there, so not for a year.
    const justBelow = await page(`cursor=${newest.body!.next_cursor}&limit=10`);
    expect(justBelow.response.headers["cache-control"]).toBe("private, no-cache");
    const first = await page("limit=1000");
    const older = await page(`cursor=${first.body!.next_cursor}&limit=10`);
    expect(older.response.headers["cache-control"]).toBe("private, max-age=31536000, immutable");
    const bounded = await page(`to_ts=${stored[500]!.ts}&limit=10`);
    expect(bounded.response.headers["cache-control"]).toBe("private, max-age=31536000, immutable");
  });

  it("compresses pages with gzip or br", async () => {
    for (const [encoding, decode] of [
      ["gzip", gunzipSync],
      ["br", brotliDecompressSync],
    ] as const) {
      const response = await gw.app.inject({ method: "GET", url: "/bootstrap?limit=2000", headers: { ...bearer, "accept-encoding": encoding } });
      expect(response.headers["content-encoding"]).toBe(encoding);
      const plain = await page("limit=2000");
      expect(decode(response.rawPayload).toString("utf8")).toBe(plain.response.body);
      expect(plain.response.headers["content-encoding"]).toBeUndefined();
      expect(response.rawPayload.length).toBeLessThan(plain.response.body.length / 2);
    }
  });

  it("refuses altered cursors and cursors used with other bounds", async () => {
    const { body } = await page("limit=10");
    const cursor = body!.next_cursor!;
    const [payload, mac] = cursor.split(".");
    const edited = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload!, "base64url").toString()), b: stored[50]!.ts })).toString("base64url");
    const altered = await page(`cursor=${edited}.${mac}`);
    expect(altered.response.statusCode).toBe(400);
    expect((altered.response.json() as { error: { code: string } }).error.code).toBe("invalid_cursor");
    const mismatch = await page(`cursor=${cursor}&from_ts=${stored[0]!.ts}`);
    expect(mismatch.response.statusCode).toBe(400);
    expect((mismatch.response.json() as { error: { code: string } }).error.code).toBe("cursor_mismatch");
  });
});
