/**
 * A private 3-node NATS cluster with JetStream: each node a real nats-server on free ports (client, route, monitor)
 * with its own store directory, so a node can be killed and started again on the same ports and data, as a crashed
 * server restarted by its supervisor would be.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { freePort, NATS_SERVER_BIN } from "@gapfill/testkit";
import type { Fleet, ManagedProcess } from "./processes.ts";

export interface NatsNode {
  process: ManagedProcess;
  clientUrl: string;
  /** GET /healthz: 200 once the node has JetStream, a meta leader and current streams. */
  healthUrl: string;
}

export interface NatsCluster {
  nodes: NatsNode[];
  /** Every node's client URL, comma-separated: the NATS_URL of the services. */
  url: string;
}

async function healthy(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(2000) })).ok;
  } catch {
    return false;
  }
}

/** Starts `size` nodes under `dir` (one store directory each) and waits until every one reports healthy. */
export async function startNatsCluster(fleet: Fleet, dir: string, size = 3): Promise<NatsCluster> {
  const ports = [];
  for (let i = 0; i < size; i++) ports.push({ client: await freePort(), route: await freePort(), monitor: await freePort() });
  const routes = ports.map((p) => `nats://127.0.0.1:${p.route}`).join(",");
  const nodes = ports.map((p, i): NatsNode => {
    const name = `nats-${i + 1}`;
    const storeDir = join(dir, name);
    mkdirSync(storeDir, { recursive: true });
    const healthUrl = `http://127.0.0.1:${p.monitor}/healthz`;
    const proc = fleet.add({
      name,
      command: NATS_SERVER_BIN,
      args: [
        "-a", "127.0.0.1", "-p", String(p.client), "-m", String(p.monitor),
        "-js", "-sd", storeDir,
        "--server_name", name, "--cluster_name", "chaos", "--cluster", `nats://127.0.0.1:${p.route}`, "--routes", routes,
      ],
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
      // SIGINT is nats-server's clean shutdown (exit status 0); SIGTERM ends it with status 1.
      stopSignal: "SIGINT",
      ready: () => healthy(healthUrl),
    });
    return { process: proc, clientUrl: `nats://127.0.0.1:${p.client}`, healthUrl };
  });
  for (const node of nodes) node.process.start();
  await Promise.all(nodes.map((node) => node.process.waitReady(60_000)));
  return { nodes, url: nodes.map((node) => node.clientUrl).join(",") };
}
