/**
 * Carrying out one planned fault on the running stack, and saying what came of it: the simulator's fault switches
 * for WebSocket cuts and REST error bursts; SIGKILL and a restart on the same ports and data for a NATS node (the one
 * leading the bars stream: the harder case), an ingestor or a gateway; a real stop and start of the database server.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { jetstreamManager } from "@nats-io/jetstream";
import type { SimFaultsPatch } from "@gapfill/contracts";
import type { NatsConnection } from "@gapfill/kit";
import type { PlannedFault } from "./faults.ts";
import type { ManagedProcess } from "./processes.ts";
import type { ChaosStack } from "./stack.ts";

export interface InjectedFault extends PlannedFault {
  /** Soak clock when it was carried out. */
  startedAtMs: number;
  /** The process taken down, if any. */
  victim: string | null;
  /** What happened, for the report. */
  outcome: string;
  /** The fault could not be carried out, or the component did not come back. */
  failed: boolean;
}

/** How long a restarted component may take to be ready again before the fault counts as failed. */
const RECOVERY_TIMEOUT_MS = 120_000;

const REST_BURSTS = {
  "rest-429": { status: 429, count: 5, retryAfterSeconds: 1 },
  "rest-418": { status: 418, count: 2, retryAfterSeconds: 2 },
} as const;

async function setSimFaults(simUrl: string, patch: SimFaultsPatch): Promise<void> {
  const response = await fetch(`${simUrl}/_sim/faults`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(patch),
  });
  if (!response.ok) throw new Error(`POST /_sim/faults answered ${response.status}: ${await response.text()}`);
}

/** The node leading the bars stream (named like its process), or null when it has none just now. */
async function barsLeader(nc: NatsConnection, stack: ChaosStack): Promise<string | null> {
  const info = await (await jetstreamManager(nc)).streams.info(stack.names.streams.bars);
  return info.cluster?.leader ?? null;
}

/** The process a kill-type fault takes down; for a NATS node, the bars stream's leader (else the planned node). */
export async function faultTarget(stack: ChaosStack, nc: NatsConnection, fault: PlannedFault): Promise<ManagedProcess | null> {
  switch (fault.kind) {
    case "nats-node-kill": {
      const leader = await barsLeader(nc, stack).catch(() => null);
      const byName = stack.cluster.nodes.find((node) => node.process.name === leader);
      return (byName ?? stack.cluster.nodes[fault.target]!).process;
    }
    case "ingestor-kill":
      return stack.ingestors[fault.target]!;
    case "gateway-kill":
      return stack.gateways[fault.target]!.process;
    case "database-stop":
      return stack.database.process;
    default:
      return null;
  }
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Takes the process down (SIGKILL; the database by a fast shutdown), leaves it down for downMs, starts it, waits for ready. */
async function downAndUp(proc: ManagedProcess, fault: PlannedFault, signal: AbortSignal): Promise<{ outcome: string; failed: boolean }> {
  const how = fault.kind === "database-stop" ? "SIGINT" : "SIGKILL";
  await proc.kill(how);
  const downSince = performance.now();
  await sleep(fault.downMs, undefined, { signal });
  proc.start();
  const startedAt = performance.now();
  try {
    await proc.waitReady(RECOVERY_TIMEOUT_MS);
  } catch {
    return { outcome: `${how}; started again after ${seconds(startedAt - downSince)}, NOT ready within ${seconds(RECOVERY_TIMEOUT_MS)}`, failed: true };
  }
  return { outcome: `${how}; down ${seconds(startedAt - downSince)}, ready ${seconds(performance.now() - startedAt)} after its start`, failed: false };
}

export async function injectFault(
  stack: ChaosStack,
  nc: NatsConnection,
  fault: PlannedFault,
  clock: () => number,
  signal: AbortSignal,
): Promise<InjectedFault> {
  const startedAtMs = clock();
  let victim: string | null = null;
  try {
    const target = await faultTarget(stack, nc, fault);
    victim = target?.name ?? null;
    if (target) return { ...fault, startedAtMs, victim, ...(await downAndUp(target, fault, signal)) };
    if (fault.kind === "ws-cut") {
      await setSimFaults(stack.simUrl, { dropNow: true });
      return { ...fault, startedAtMs, victim, outcome: "every WebSocket connection cut", failed: false };
    }
    const burst = REST_BURSTS[fault.kind as keyof typeof REST_BURSTS];
    // The ingestors call REST when their WebSocket breaks: the cut makes them meet the burst now.
    await setSimFaults(stack.simUrl, { restErrorBurst: burst, dropNow: true });
    return {
      ...fault,
      startedAtMs,
      victim,
      outcome: `next ${burst.count} REST answers ${burst.status} (Retry-After ${burst.retryAfterSeconds} s), WebSockets cut`,
      failed: false,
    };
  } catch (error) {
    return { ...fault, startedAtMs, victim, outcome: `could not be carried out: ${(error as Error).message}`, failed: true };
  }
}
