import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { nanos, type NatsConnection } from "@nats-io/transport-node";
import { natsNames } from "@gapfill/contracts";
import { deleteTopology, provisionTopology } from "../src/index.ts";
import { connectTestNats, deleteNamespaceStreams, uniqueNamespace } from "@gapfill/testkit";

let nc: NatsConnection;
let jsm: JetStreamManager;
const ns1 = uniqueNamespace();
const ns2 = uniqueNamespace();
const ns3 = uniqueNamespace();

beforeAll(async () => {
  nc = await connectTestNats();
  jsm = await jetstreamManager(nc);
});

afterAll(async () => {
  await deleteNamespaceStreams(nc, ns1);
  await deleteNamespaceStreams(nc, ns2);
  await deleteNamespaceStreams(nc, ns3);
  await nc.close();
});

async function streamsOf(namespace: string): Promise<string[]> {
  const names: string[] = [];
  for await (const name of jsm.streams.names()) if (name.startsWith(`${namespace}_`) || name.startsWith(`KV_${namespace}_`)) names.push(name);
  return names.sort();
}

describe("provisionTopology", () => {
  const settings = { namespace: ns1, barsMaxAgeHours: 168, sessionTtlSeconds: 1800, replicas: 1 };

  it("creates exactly the streams and bucket of the topology, and a second run changes nothing", async () => {
    const first = await provisionTopology(nc, settings);
    expect(Object.values(first.actions)).toEqual(["created", "created", "created", "created"]);
    const second = await provisionTopology(nc, settings);
    expect(Object.values(second.actions)).toEqual(["unchanged", "unchanged", "unchanged", "unchanged"]);
    expect(await streamsOf(ns1)).toEqual([`${ns1}_BARS`, `${ns1}_ML_EVENTS`, `${ns1}_ML_TICKS`, `KV_${ns1}_sessions`].sort());

    const bars = (await jsm.streams.info(`${ns1}_BARS`)).config;
    expect(bars.subjects).toEqual([`${ns1}.bars.15s.*`]);
    expect(bars.storage).toBe(StorageType.File);
    expect(bars.retention).toBe(RetentionPolicy.Limits);
    expect(bars.max_age).toBe(nanos(168 * 3600_000));
    expect(bars.duplicate_window).toBe(nanos(120_000));
    expect(bars.allow_direct).toBe(true);

    const ticks = (await jsm.streams.info(`${ns1}_ML_TICKS`)).config;
    expect(ticks.retention).toBe(RetentionPolicy.Limits);
    expect(ticks.max_msgs_per_subject).toBe(100);
    expect(ticks.subjects).toEqual([`${ns1}.ml.tick.*`]);

    const events = (await jsm.streams.info(`${ns1}_ML_EVENTS`)).config;
    expect(events.retention).toBe(RetentionPolicy.Limits);
    expect(events.subjects).toEqual([`${ns1}.ml.model.published`, `${ns1}.ml.predictions.*`, `${ns1}.ml.run.*`]);

    const kv = await new Kvm(nc).open(`${ns1}_sessions`);
    const status = await kv.status();
    expect(status.ttl).toBe(1800_000);
    expect(status.history).toBe(1);
  });

  it("updates a changed setting in place instead of duplicating the stream", async () => {
    await provisionTopology(nc, settings);
    const bars = natsNames(ns1).streams.bars;
    const js = jetstream(nc);
    await js.publish(natsNames(ns1).subjects.bars("BTCUSDT"), "{}", { msgID: "BTCUSDT:0" });

    const changed = await provisionTopology(nc, { ...settings, barsMaxAgeHours: 24, sessionTtlSeconds: 600 });
    expect(changed.actions[bars]).toBe("updated");
    expect(changed.actions[`${ns1}_sessions`]).toBe("updated");
    expect(changed.actions[`${ns1}_ML_TICKS`]).toBe("unchanged");
    const info = await jsm.streams.info(bars);
    expect(info.config.max_age).toBe(nanos(24 * 3600_000));
    expect(info.state.messages).toBe(1);
    expect((await (await new Kvm(nc).open(`${ns1}_sessions`)).status()).ttl).toBe(600_000);
    expect((await streamsOf(ns1)).length).toBe(4);
  });

  it("isolates namespaces: a bar published in one is not seen in another", async () => {
    await provisionTopology(nc, settings);
    await provisionTopology(nc, { ...settings, namespace: ns2 });
    const js = jetstream(nc);
    const before1 = (await jsm.streams.info(`${ns1}_BARS`)).state.messages;
    await js.publish(natsNames(ns2).subjects.bars("BTCUSDT"), "{}", { msgID: "BTCUSDT:15000" });
    expect((await jsm.streams.info(`${ns2}_BARS`)).state.messages).toBe(1);
    expect((await jsm.streams.info(`${ns1}_BARS`)).state.messages).toBe(before1);
    const kv1 = await new Kvm(nc).open(`${ns1}_sessions`);
    const kv2 = await new Kvm(nc).open(`${ns2}_sessions`);
    await kv2.put("s", "x");
    expect(await kv1.get("s")).toBeNull();
    expect((await kv2.get("s"))?.string()).toBe("x");
  });
});

describe("deleteTopology", () => {
  it("deletes a namespace's streams and bucket, leaves other namespaces alone, and is a no-op the second time", async () => {
    const doomed = ns3;
    const settings = { namespace: doomed, barsMaxAgeHours: 168, sessionTtlSeconds: 1800, replicas: 1 };
    await provisionTopology(nc, settings);
    await provisionTopology(nc, { ...settings, namespace: ns2 });
    const kept = await streamsOf(ns2);
    expect(await deleteTopology(nc, doomed)).toEqual([`${doomed}_BARS`, `${doomed}_ML_TICKS`, `${doomed}_ML_EVENTS`, `KV_${doomed}_sessions`]);
    expect(await streamsOf(doomed)).toEqual([]);
    expect(await streamsOf(ns2)).toEqual(kept);
    expect(await deleteTopology(nc, doomed)).toEqual([]);
  });
});
