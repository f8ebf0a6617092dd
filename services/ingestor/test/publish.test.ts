import { jetstream, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { afterEach, expect, it } from "vitest";
import { barMsgId, flatBar, natsNames, type ClosedBar } from "@gapfill/contracts";
import { type NatsConnection } from "@gapfill/kit";
import {
  connectTestNats,
  deleteNamespaceStreams,
  provisionTestTopology,
  uniqueNamespace,
  waitFor,
} from "@gapfill/testkit";
import { BarPublisher, readLastBar } from "../src/publish.ts";
import { readSeries, SYMBOL, testLogger } from "./support/harness.ts";

const T0 = 1_700_000_010_000 - (1_700_000_010_000 % 15_000);
const bar = (i: number): ClosedBar => flatBar(SYMBOL, T0 + i * 15_000, 100 + i);

let nc: NatsConnection | undefined;
let ns = "";
afterEach(async () => {
  if (nc) {
    await deleteNamespaceStreams(nc, ns);
    await nc.close();
  }
  nc = undefined;
});

async function setup(options: { duplicateWindowMs?: number } = {}) {
  ns = uniqueNamespace();
  nc = await connectTestNats();
  const names = natsNames(ns);
  if (options.duplicateWindowMs === undefined) {
    await provisionTestTopology(nc, ns);
  } else {
    // Like BARS, with a duplicate window short enough to outlive in a test.
    await (await jetstreamManager(nc)).streams.add({
      name: names.streams.bars,
      subjects: [names.subjects.allBars],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      allow_direct: true,
      duplicate_window: nanos(options.duplicateWindowMs),
    });
  }
  const jsm = await jetstreamManager(nc);
  const publisher = async (onConflict?: () => void) =>
    new BarPublisher(
      { js: jetstream(nc!), jsm, names, symbol: SYMBOL, log: testLogger("publish"), onConflict, signal: new AbortController().signal },
      await readLastBar(jsm, names, SYMBOL),
    );
  return { nc, names, jsm, publisher };
}

it("publishes each bar once, in order, with its message id, and resumes after the stream's last bar", async () => {
  const { nc, names, jsm, publisher } = await setup();
  expect(await readLastBar(jsm, names, SYMBOL)).toBeNull();
  const first = await publisher();
  first.enqueue([bar(0), bar(1), bar(2)]);
  first.enqueue([bar(1), bar(3)]);
  await first.drained();
  expect(first.lastPublishedTs).toBe(bar(3).ts);

  const last = await readLastBar(jsm, names, SYMBOL);
  expect(last?.bar).toEqual(bar(3));
  const resumed = await publisher();
  expect(resumed.lastPublishedTs).toBe(bar(3).ts);
  resumed.enqueue([bar(3), bar(4)]);
  await resumed.drained();

  const series = await readSeries(nc, names);
  expect(series.map((r) => r.bar)).toEqual([0, 1, 2, 3, 4].map(bar));
  expect(series.map((r) => r.msgId)).toEqual([0, 1, 2, 3, 4].map((i) => barMsgId(SYMBOL, bar(i).ts)));
});

it("keeps one series when two publishers write the same bars at once", async () => {
  const { nc, names, publisher } = await setup();
  const [a, b] = [await publisher(), await publisher()];
  const bars = Array.from({ length: 30 }, (_, i) => bar(i));
  a.enqueue(bars);
  b.enqueue(bars);
  await Promise.all([a.drained(), b.drained()]);
  expect((await readSeries(nc, names)).map((r) => r.bar)).toEqual(bars);
});

it("refused for a wrong last sequence, re-reads the stream's last bar and carries on after it", async () => {
  const { nc, names, publisher } = await setup({ duplicateWindowMs: 100 });
  let conflicts = 0;
  const slow = await publisher(() => conflicts++);
  slow.enqueue([bar(0), bar(1)]);
  await slow.drained();
  // Another ingestor writes bars 2 and 3; by the time the slow one gets to them, the duplicate window has passed.
  const other = await publisher();
  other.enqueue([bar(2), bar(3)]);
  await other.drained();
  // A probe stored now on another subject of the stream tells when the duplicate window has passed: once JetStream
  // takes the same message id again, it has forgotten every id stored before the probe.
  const probe = { subject: names.subjects.bars("PROBEUSDT"), id: `probe:${Date.now()}` };
  const js = jetstream(nc);
  await js.publish(probe.subject, "{}", { msgID: probe.id });
  await waitFor(async () => !(await js.publish(probe.subject, "{}", { msgID: probe.id })).duplicate, { what: "the duplicate window to pass" });
  slow.enqueue([bar(2), bar(3), bar(4)]);
  await slow.drained();
  expect(conflicts).toBe(1);
  expect(slow.lastPublishedTs).toBe(bar(4).ts);
  expect((await readSeries(nc, names)).map((r) => r.bar)).toEqual([0, 1, 2, 3, 4].map(bar));
});
