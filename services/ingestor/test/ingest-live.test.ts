import { afterAll, expect, it } from "vitest";
import { barOpenTime, formingBarSchema, type FormingBar } from "@gapfill/contracts";
import { waitFor } from "@gapfill/testkit";
import { createWorld, SYMBOL, waitForBarAt, type IngestWorld } from "./support/harness.ts";

let world: IngestWorld;
afterAll(async () => world?.cleanup());

it("publishes the forming bar on live.15s.<SYMBOL> at most 4 times a second, consistent with the bar it becomes", async () => {
  world = await createWorld({ historyHours: 0.5, speed: 20 });
  const ingestor = await world.startIngestor({ INGEST_BACKFILL_HOURS: "0.05" });
  await ingestor.ready;
  const snapshots: { at: number; bar: FormingBar }[] = [];
  const subscription = world.nc.subscribe(world.names.subjects.live(SYMBOL), {
    callback: (_error, message) => {
      snapshots.push({ at: Date.now(), bar: formingBarSchema.parse(message.json()) });
    },
  });
  // At most 4 a second, 17 snapshots span at least four seconds of a market that changes the bar far more often.
  await waitFor(() => snapshots.length >= 17, { timeoutMs: 15_000, intervalMs: 100, what: "17 snapshots" });
  subscription.unsubscribe();

  // Never more than 4 in any second.
  expect(snapshots.at(-1)!.at - snapshots[0]!.at).toBeGreaterThanOrEqual(4000);
  for (const { at } of snapshots) expect(snapshots.filter((s) => s.at >= at && s.at < at + 1000).length).toBeLessThanOrEqual(4);

  const lastTs = Math.max(...snapshots.map((s) => s.bar.ts));
  const closed = new Map((await waitForBarAt(world, lastTs)).map((record) => [record.bar.ts, record.bar]));
  for (const { bar } of snapshots) {
    const final = closed.get(bar.ts)!;
    expect(final, `closed bar for the snapshot at ${bar.ts}`).toBeDefined();
    expect(bar.symbol).toBe(SYMBOL);
    expect(bar.trades).toBeLessThanOrEqual(final.trades);
    if (bar.trades === 0) continue;
    // A snapshot is a prefix of the bar: same open, a range inside the final one.
    expect(bar.open).toBe(final.open);
    expect(bar.high).toBeLessThanOrEqual(final.high);
    expect(bar.low).toBeGreaterThanOrEqual(final.low);
    expect(barOpenTime(bar.as_of!)).toBe(bar.ts);
  }
}, 60_000);
