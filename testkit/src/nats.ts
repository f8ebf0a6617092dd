import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { DEFAULT_TOPOLOGY_SETTINGS, type NatsNames, type TopologySettings } from "@gapfill/contracts";
import { provisionTopology } from "@gapfill/kit";

/** The machine's NATS server, or TEST_NATS_URL. */
export const TEST_NATS_URL = process.env.TEST_NATS_URL ?? "nats://127.0.0.1:4222";

export async function connectTestNats(url = TEST_NATS_URL): Promise<NatsConnection> {
  return connect({ servers: url, name: "gapfill-test", timeout: 5000 });
}

/** Deletes every stream (and so every KV bucket) whose name starts with the namespace. */
export async function deleteNamespaceStreams(nc: NatsConnection, namespace: string): Promise<string[]> {
  if (!namespace) throw new Error("refusing to delete streams of the empty namespace");
  const jsm = await jetstreamManager(nc);
  const deleted: string[] = [];
  for await (const name of jsm.streams.names()) {
    if (name.startsWith(`${namespace}_`) || name.startsWith(`KV_${namespace}_`)) {
      await jsm.streams.delete(name);
      deleted.push(name);
    }
  }
  return deleted;
}

/** Provisions a test namespace's streams and bucket as `npm run provision` would, with the defaults unless overridden. */
export async function provisionTestTopology(
  nc: NatsConnection,
  namespace: string,
  overrides: Partial<TopologySettings> = {},
): Promise<NatsNames> {
  const { names } = await provisionTopology(nc, { ...DEFAULT_TOPOLOGY_SETTINGS, ...overrides, namespace });
  return names;
}
