import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { BAR_MS, lastClosedBarTs, type BootstrapPage, type ClosedBar } from "@gapfill/contracts";
import { RawSseClient, testBars, waitFor } from "@gapfill/testkit";
import { contiguousSeam, SEAM_PROBE_BARS } from "../src/seam.ts";
import { createGatewayTestEnv, startGateway, SYMBOL, type GatewayTestEnv, type RunningGateway } from "./support/env.ts";
import { LOCAL_SECRET, localToken, startSession } from "./support/session.ts";

const T0 = 1_700_000_100_000 - (1_700_000_100_000 % BAR_MS);
const at = (...offsets: number[]) => offsets.map((i) => ({ ts: T0 + i * BAR_MS })).reverse();

describe("contiguousSeam", () => {
  it("is the newest bar of a contiguous run, and null without bars", () => {
    expect(contiguousSeam([])).toBeNull();
    expect(contiguousSeam(at(0))).toBe(T0);
    expect(contiguousSeam(at(0, 1, 2, 3))).toBe(T0 + 3 * BAR_MS);
  });

  it("stops below the lowest hole, whatever lies above it", () => {
    expect(contiguousSeam(at(0, 1, 2, 4, 5))).toBe(T0 + 2 * BAR_MS);
    expect(contiguousSeam(at(0, 1, 3, 4, 6))).toBe(T0 + BAR_MS);
    expect(contiguousSeam(at(0, 2))).toBe(T0);
  });

  it("never passes a missing bar and never exceeds the newest bar (property)", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 240 }), (offsets) => {
        const bars = at(...offsets.sort((a, b) => a - b));
        const seam = contiguousSeam(bars)!;
        const oldest = bars.at(-1)!.ts;
        expect(seam).toBeLessThanOrEqual(bars[0]!.ts);
        for (let ts = oldest; ts <= seam; ts += BAR_MS) expect(bars.some((bar) => bar.ts === ts)).toBe(true);
        // The bar after the seam is missing, unless the seam is the newest bar.
        if (seam !== bars[0]!.ts) expect(bars.some((bar) => bar.ts === seam + BAR_MS)).toBe(false);
      }),
    );
  });
});

describe("a hole below the table's newest bar", () => {
  let env: GatewayTestEnv;
  let gw: RunningGateway;
  const COUNT = 300;
  const HOLE = [290, 291];
  const bars = testBars(SYMBOL, lastClosedBarTs(Date.now()) - (COUNT + 10) * BAR_MS, COUNT, 11);

  beforeAll(async () => {
    env = await createGatewayTestEnv();
    await env.publishBars(bars);
    // The recorder has written the newer bars but not yet 290 and 291 (held by a recorder that crashed, say).
    await env.store.upsertBars(bars.filter((_, i) => !HOLE.includes(i)));
    gw = await startGateway(env, { config: env.config({ LOCAL_JWT_SECRET: LOCAL_SECRET }), listen: true });
  });

  afterAll(async () => {
    await gw?.close();
    await env?.cleanup();
  });

  async function bootstrapWalk(query: string): Promise<ClosedBar[]> {
    const out: ClosedBar[] = [];
    let next: string | null = query;
    while (next !== null) {
      const response = await fetch(`${gw.url}/bootstrap?${next}`);
      expect(response.status).toBe(200);
      const page = (await response.json()) as BootstrapPage;
      out.push(...page.bars);
      const sessionId = new URLSearchParams(query).get("session_id")!;
      next = page.next_cursor === null ? null : `cursor=${page.next_cursor}&session_id=${sessionId}&limit=100`;
    }
    return out;
  }

  it("caches as immutable only pages whose newest bar is at least an hour below the seam", async () => {
    const seamIndex = HOLE[0]! - 1;
    const cacheOf = async (toIndex: number) =>
      (await fetch(`${gw.url}/bootstrap?to_ts=${bars[toIndex]!.ts}&limit=10`, { headers: { authorization: `Bearer ${await localToken("seam")}` } }))
        .headers.get("cache-control");
    // At or below the table's newest bar, but above the hole or within the margin below it: may still change.
    expect(await cacheOf(280)).toBe("private, no-cache");
    expect(await cacheOf(seamIndex - SEAM_PROBE_BARS + 1)).toBe("private, no-cache");
    expect(await cacheOf(seamIndex - SEAM_PROBE_BARS)).toBe("private, max-age=31536000, immutable");
  });

  it("puts the session's seam below the hole, so bootstrap and the gap stream give every bar exactly once", async () => {
    const session = await startSession(gw.url, await localToken("seam"));
    expect(session.supabase_last_ts).toBe(bars[HOLE[0]! - 1]!.ts);
    // The recorder catches up after the session started: bootstrap still ends at the seam.
    await env.store.upsertBars(HOLE.map((i) => bars[i]!));
    const history = await bootstrapWalk(`session_id=${session.session_id}&limit=100`);
    const stream = await RawSseClient.open(`${session.stream_url}&to_ts=${bars.at(-1)!.ts}`);
    await waitFor(() => stream.closed, { what: "the gap stream to reach to_ts" });
    const streamed = stream.named("bar").map((e) => JSON.parse(e.data) as ClosedBar);
    expect([...history].reverse().concat(streamed)).toEqual(bars);
  });
});
