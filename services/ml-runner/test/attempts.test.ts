import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runIdOf, type TickEvent } from "@gapfill/contracts";
import { openLocalObjectStore, type ObjectStore } from "@gapfill/kit";
import { attemptOf, runPrefixOf, writeRunRecord, type RunRecord } from "../src/index.ts";

const tick: TickEvent = { kind: "retrain", window_start: Date.UTC(2024, 0, 1, 6), interval_s: 3600 };
const settings = { trainPrefix: "train" };
const at = "2024-01-01T06:00:01.000Z";

let dir: string | undefined;
let objects: ObjectStore | undefined;
afterEach(async () => {
  await objects?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = objects = undefined;
});

async function withRecord(record: Partial<RunRecord> | null): Promise<ObjectStore> {
  dir = await mkdtemp(join(tmpdir(), "gapfill-attempts-"));
  objects = await openLocalObjectStore({ dir });
  if (record) {
    const full: RunRecord = { run_id: runIdOf(tick), tick, state: "running", created_at: at, updated_at: at, delivery: 1, ...record };
    await writeRunRecord(objects, runPrefixOf(settings.trainPrefix, runIdOf(tick)), full);
  }
  return objects;
}

describe("attemptOf: which attempt at a run a delivery is", () => {
  it("is JetStream's delivery count when the run has no record yet", async () => {
    const store = await withRecord(null);
    expect(await attemptOf({ objects: store }, settings, tick, 1)).toBe(1);
    expect(await attemptOf({ objects: store }, settings, tick, 3)).toBe(3);
  });

  it("is one more than the record's last attempt when JetStream's count started again (NATS 2.9 after max deliveries)", async () => {
    const store = await withRecord({ state: "running", delivery: 2 });
    expect(await attemptOf({ objects: store }, settings, tick, 1)).toBe(3);
    // A count ahead of the record (a delivery that died before writing it) is kept.
    expect(await attemptOf({ objects: store }, settings, tick, 5)).toBe(5);
  });

  it("leaves the count alone for a run that ended (its delivery is acknowledged without running again)", async () => {
    const store = await withRecord({ state: "finished", delivery: 2, outcome: { outcome: "promoted", reason: "no current model" } });
    expect(await attemptOf({ objects: store }, settings, tick, 1)).toBe(1);
  });
});
