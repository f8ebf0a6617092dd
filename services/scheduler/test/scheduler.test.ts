/**
 * The scheduler against the real NATS server: several schedulers (in this process and as their own processes,
 * stopped, killed with SIGKILL, restarted) give exactly one tick per window; after downtime one catch-up tick; a
 * tick published by hand is "already there"; a lost race ("wrong last sequence") re-reads instead of publishing twice.
 */
import { join } from "node:path";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TICK_KINDS, tickWindowStart, type NatsNames, type TickEvent, type TickKind } from "@gapfill/contracts";
import { createMetricsRegistry, type ServiceLifecycle } from "@gapfill/kit";
import {
  capturingLogger,
  connectTestNats,
  deleteNamespaceStreams,
  killServiceProcess,
  provisionTestTopology,
  startServiceProcess,
  TEST_NATS_URL,
  uniqueNamespace,
  waitFor,
  type ServiceProcess,
} from "@gapfill/testkit";
import { publishTickOnce, startScheduler, type SchedulerClock } from "../src/index.ts";
import { ManualClock, tickedWindows, ticksOnSubject } from "./support.ts";

const MAIN = join(import.meta.dirname, "..", "src", "main.ts");
const INTERVAL_S = 2;
const INTERVAL_MS = INTERVAL_S * 1000;
/** 2024-01-01T00:00:00Z: aligned to the test interval, for the hand-driven clock. */
const T0 = Date.UTC(2024, 0, 1);

let nc: NatsConnection;
let jsm: JetStreamManager;
const namespaces: string[] = [];
const connections: NatsConnection[] = [];
const running: ServiceLifecycle[] = [];
const processes: ServiceProcess[] = [];

beforeAll(async () => {
  nc = await connectTestNats();
  jsm = await jetstreamManager(nc);
});

afterAll(async () => {
  await Promise.all(running.map((scheduler) => scheduler.stop()));
  await Promise.all(processes.map((p) => killServiceProcess(p)));
  for (const ns of namespaces) await deleteNamespaceStreams(nc, ns);
  await Promise.all(connections.map((c) => c.close()));
  await nc.close();
});

async function freshNamespace(): Promise<NatsNames> {
  const ns = uniqueNamespace();
  namespaces.push(ns);
  return provisionTestTopology(nc, ns);
}

/** A scheduler in this process with its own connection, as a separate replica would have. */
async function startInProcess(names: NatsNames, clock?: SchedulerClock) {
  const own = await connectTestNats();
  connections.push(own);
  const { log, lines } = capturingLogger();
  const scheduler = await startScheduler({
    config: { NATS_NAMESPACE: names.namespace, ML_INTERVAL_SECONDS: INTERVAL_S, INFER_INTERVAL_SECONDS: INTERVAL_S },
    nc: own,
    log,
    registry: createMetricsRegistry("scheduler"),
    ...(clock ? { clock } : {}),
  });
  running.push(scheduler);
  return { scheduler, lines };
}

function startProcess(names: NatsNames): ServiceProcess {
  const p = startServiceProcess(MAIN, {
    NATS_URL: TEST_NATS_URL,
    NATS_NAMESPACE: names.namespace,
    ML_INTERVAL_SECONDS: String(INTERVAL_S),
    INFER_INTERVAL_SECONDS: String(INTERVAL_S),
    SCHEDULER_METRICS_PORT: "0",
    LOG_LEVEL: "info",
  });
  processes.push(p);
  return p;
}

/** Until every kind's subject holds a tick for `windowStart` or a later window. */
async function untilTicked(names: NatsNames, windowStart: (kind: TickKind) => number, what: string): Promise<void> {
  await waitFor(
    async () => {
      for (const kind of TICK_KINDS) {
        if (!(await tickedWindows(jsm, names, kind)).some((w) => w >= windowStart(kind))) return false;
      }
      return true;
    },
    { timeoutMs: 20_000, intervalMs: 50, what },
  );
}

const windowsFrom = (first: number, count: number) => Array.from({ length: count }, (_, i) => first + i * INTERVAL_MS);
const outcomes = (lines: Record<string, unknown>[], kind: TickKind, outcome: string) =>
  lines.filter((line) => line.kind === kind && line.outcome === outcome);

describe("scheduler", () => {
  it("three schedulers started at once for three windows of a 2 s interval publish exactly three ticks per kind", { timeout: 60_000 }, async () => {
    const names = await freshNamespace();
    const three = await Promise.all([0, 1, 2].map(() => startInProcess(names)));
    await Promise.all(three.map(({ scheduler }) => scheduler.ready));
    const first = Object.fromEntries(
      await Promise.all(TICK_KINDS.map(async (kind) => [kind, (await tickedWindows(jsm, names, kind))[0]!] as const)),
    ) as Record<TickKind, number>;
    await untilTicked(names, (kind) => first[kind] + 2 * INTERVAL_MS, "the third window's ticks");
    // Stopped right after the third boundary: the fourth is a whole interval away.
    await Promise.all(three.map(({ scheduler }) => scheduler.stop()));

    for (const kind of TICK_KINDS) {
      expect(await tickedWindows(jsm, names, kind)).toEqual(windowsFrom(first[kind], 3));
      const published = three.flatMap(({ lines }) => outcomes(lines, kind, "published"));
      expect(published.map((line) => line.window_start).sort()).toEqual(windowsFrom(first[kind], 3));
      // Every scheduler ticked (or found) every window it saw: the others said "already there".
      expect(three.flatMap(({ lines }) => outcomes(lines, kind, "already there")).length).toBeGreaterThanOrEqual(3);
    }
  });

  it("keeps one tick per window while a replica is stopped and restarted and another is killed with SIGKILL and restarted", { timeout: 90_000 }, async () => {
    const names = await freshNamespace();
    const a = await startInProcess(names);
    let b = await startInProcess(names);
    let c = startProcess(names);
    await Promise.all([a.scheduler.ready, b.scheduler.ready, c.logged("scheduler ready")]);
    const first = tickWindowStart(Date.now(), INTERVAL_S);
    await untilTicked(names, () => first + INTERVAL_MS, "a window ticked with all three running");

    // Mid-run: one stops cleanly, the process is killed without a chance to clean up; both come back.
    await b.scheduler.stop();
    await killServiceProcess(c);
    expect((await c.exited).signal).toBe("SIGKILL");
    b = await startInProcess(names);
    c = startProcess(names);
    await Promise.all([b.scheduler.ready, c.logged("scheduler ready")]);
    const restarted = tickWindowStart(Date.now(), INTERVAL_S);
    await untilTicked(names, () => restarted + INTERVAL_MS, "a window ticked after the restarts");

    await Promise.all([a.scheduler.stop(), b.scheduler.stop()]);
    c.child.kill("SIGTERM");
    expect(await c.exited).toEqual({ code: 0, signal: null });
    for (const kind of TICK_KINDS) {
      const windows = await tickedWindows(jsm, names, kind);
      // Windows ticked before and after the restarts: one tick each, none missing, none twice.
      expect(windows).toEqual(expect.arrayContaining([first + INTERVAL_MS, restarted + INTERVAL_MS]));
      expect(windows).toEqual(windowsFrom(windows[0]!, windows.length));
      // The replica restarted in this process took part again (published or found each window it saw).
      expect(b.lines.filter((line) => line.kind === kind && typeof line.outcome === "string").length).toBeGreaterThanOrEqual(2);
    }
  });

  it("fires one catch-up tick for the current window after five windows of downtime, then ticks at the next boundary", async () => {
    const names = await freshNamespace();
    const clock = new ManualClock(T0 + 500);
    const before = await startInProcess(names, clock);
    await before.scheduler.ready;
    clock.set(T0 + INTERVAL_MS);
    await untilTicked(names, () => T0 + INTERVAL_MS, "the tick at the first boundary");
    await before.scheduler.stop();

    // Down through the windows starting at T0 + 4 s … T0 + 12 s; back 300 ms into the window at T0 + 14 s.
    clock.set(T0 + 7 * INTERVAL_MS + 300);
    const after = await startInProcess(names, clock);
    await after.scheduler.ready;
    for (const kind of TICK_KINDS) {
      expect(await tickedWindows(jsm, names, kind)).toEqual([T0, T0 + INTERVAL_MS, T0 + 7 * INTERVAL_MS]);
      expect(outcomes(after.lines, kind, "published").map((line) => line.window_start)).toEqual([T0 + 7 * INTERVAL_MS]);
    }

    // Its timer wakes it at the next boundary.
    clock.set(T0 + 8 * INTERVAL_MS);
    await untilTicked(names, () => T0 + 8 * INTERVAL_MS, "the tick at the boundary after the catch-up");
    await after.scheduler.stop();
    for (const kind of TICK_KINDS) {
      expect(await tickedWindows(jsm, names, kind)).toEqual([T0, T0 + INTERVAL_MS, T0 + 7 * INTERVAL_MS, T0 + 8 * INTERVAL_MS]);
    }
  });

  it("says 'already there' for a tick published by hand for the current window, and publishes after a message that is not a tick", async () => {
    const names = await freshNamespace();
    const clock = new ManualClock(T0 + 1234);
    const byHand: TickEvent = { kind: "retrain", window_start: T0, interval_s: INTERVAL_S };
    // As `nats pub` does: a plain NATS publish, which the ticks stream stores.
    nc.publish(names.subjects.tick("retrain"), JSON.stringify(byHand));
    nc.publish(names.subjects.tick("infer"), "not a tick");
    await waitFor(async () => (await ticksOnSubject(jsm, names, "retrain")).length + (await ticksOnSubject(jsm, names, "infer")).length === 2, {
      what: "the hand-published messages stored",
    });

    const { scheduler, lines } = await startInProcess(names, clock);
    await scheduler.ready;
    await scheduler.stop();
    expect(lines.find((line) => line.msg === "retrain tick already there")).toMatchObject({ kind: "retrain", window_start: T0 });
    expect(outcomes(lines, "retrain", "published")).toEqual([]);
    expect(await ticksOnSubject(jsm, names, "retrain")).toEqual([{ seq: expect.any(Number), tick: byHand }]);

    const infer = await ticksOnSubject(jsm, names, "infer");
    expect(infer.map(({ tick }) => tick)).toEqual([null, { kind: "infer", window_start: T0, interval_s: INTERVAL_S }]);
    expect(lines.find((line) => line.msg === "the subject's last message was not a tick; published after it")).toMatchObject({
      kind: "infer",
      seq: infer[0]!.seq,
      reason: expect.stringMatching(/^not JSON/),
    });
  });

  it("re-reads after losing the race for a window (wrong last sequence) and reports the other tick as already there", async () => {
    const names = await freshNamespace();
    const js = jetstream(nc);
    const tick: TickEvent = { kind: "infer", window_start: T0, interval_s: INTERVAL_S };
    // Another publisher lands a tick for the window between our read and our publish, without a message id, so
    // only the expected last subject sequence can refuse ours.
    let reads = 0;
    const racing = {
      direct: {
        getMessage: async (...args: Parameters<JetStreamManager["direct"]["getMessage"]>) => {
          const last = await jsm.direct.getMessage(...args);
          if (reads++ === 0) await js.publish(names.subjects.tick("infer"), JSON.stringify(tick));
          return last;
        },
      },
    } as unknown as JetStreamManager;

    const result = await publishTickOnce(js, racing, names, tick);
    expect(result).toMatchObject({ outcome: "already there", malformedLast: null });
    expect(reads).toBe(2);
    expect(await tickedWindows(jsm, names, "infer")).toEqual([T0]);
  });
});
