/**
 * One soak from start to verdict: start the stack, connect the SSE clients, inject the seeded faults for the soak's
 * length while sampling every process's memory, let the stack settle, check what it produced and report; then stop
 * everything and delete the servers' data (the logs stay in the run directory).
 */
import { setMaxListeners } from "node:events";
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { BAR_MS, lastClosedBarTs } from "@gapfill/contracts";
import { connectNats, createLogger, waitFor, type NatsConnection } from "@gapfill/kit";
import { seededWords } from "@gapfill/testkit";
import { SseClient } from "./clients.ts";
import { faultSchedule } from "./faults.ts";
import { injectFault, type InjectedFault } from "./inject.ts";
import { countTableBars, fetchTruth, lastStreamTs, readStreamSeries, readTableBars, simNow } from "./observe.ts";
import { Fleet, residentBytes, type Crash } from "./processes.ts";
import { faultLabel, renderReport, soakProblems, type SoakFindings } from "./report.ts";
import { STACK_SETTINGS, startStack, SYMBOL, type ChaosStack } from "./stack.ts";
import { checkClientSeries, checkStreamAgainstTruth, checkTableAgainstStream, clockText, latestByTs, rssRows, type RssSample } from "./verify.ts";

export interface SoakOptions {
  minutes: number;
  seed: number;
  clients: number;
  /** Where the logs go (kept); created if missing. The servers' data goes to a temp directory deleted at the end. */
  runDir: string;
  /** How the soak was started, for the report. */
  command: string;
  /** Progress lines while it runs. */
  progress?: (line: string) => void;
  /** Aborting it ends the soak early (no verdict), stopping everything it started. */
  signal?: AbortSignal;
}

export interface SoakResult {
  report: string;
  problems: string[];
  findings: SoakFindings | null;
}

const RSS_EVERY_MS = 5_000;
/** A client's first stream starts up to this many bars back (200 bars: 50 minutes, within the backfilled hour). */
const CLIENT_REPLAY_BARS = 200;
/** Growth is judged from minute 2 (from half-way in a soak of 4 minutes or less) to the end. */
const rssBaselineAtMs = (durationMs: number) => Math.min(120_000, durationMs / 2);
/** Each condition of the settle phase gets this long. */
const SETTLE_TIMEOUT_MS = 90_000;

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const durationMs = Math.round(options.minutes * 60_000);
  const schedule = faultSchedule(options.seed, durationMs);
  const logDir = join(options.runDir, "logs");
  mkdirSync(logDir, { recursive: true });
  // Readable by all: PostgreSQL runs as its own user when we are root, and must reach its directory in here.
  const dataDir = mkdtempSync(join(tmpdir(), "gapfill-chaos-data-"));
  chmodSync(dataDir, 0o755);
  let origin = Date.now();
  const clock = () => Date.now() - origin;
  const say = (text: string) => options.progress?.(`chaos ${clockText(clock())} ${text}`);
  const crashes: Crash[] = [];
  const stopped = new AbortController();
  // Every scheduled fault waits on it.
  setMaxListeners(schedule.length + 10, stopped.signal);
  options.signal?.addEventListener("abort", () => stopped.abort(new Error("interrupted")), { once: true });
  const notes: string[] = [];
  const fleet = new Fleet(logDir, {
    clock,
    onCrash: (crash) => {
      crashes.push(crash);
      say(`${crash.name} exited unasked (${crash.signal ?? `status ${crash.code}`}); starting it again`);
    },
    onFatal: (reason) => {
      notes.push(reason);
      stopped.abort(new Error(reason));
    },
  });
  const samples: RssSample[] = [];
  const runnerStartedAt = clock();
  const sampleMemory = () => {
    const atMs = clock();
    for (const proc of fleet.processes) {
      const bytes = proc.rssBytes();
      if (bytes !== null) samples.push({ atMs, name: proc.name, instance: proc.instances, startedAtMs: proc.startedAtMs, bytes });
    }
    const own = residentBytes(process.pid);
    if (own !== null) samples.push({ atMs, name: "chaos (clients)", instance: 1, startedAtMs: runnerStartedAt, bytes: own });
  };
  let sampler: NodeJS.Timeout | null = null;
  let nc: NatsConnection | null = null;
  const clients: SseClient[] = [];
  try {
    say(`starting the stack in ${options.runDir}`);
    const stack = await startStack(fleet, dataDir, options.seed);
    nc = await connectNats({ url: stack.cluster.url, name: "gapfill-chaos", log: createLogger({ service: "chaos", level: "silent" }) });
    const gateways = stack.gateways.map((g) => g.url);
    const random = seeded(options.seed);
    const newest = lastClosedBarTs(await simNow(stack.simUrl));
    const sessionTtlMs = Number(STACK_SETTINGS.SESSION_TTL_SECONDS) * 1000;
    for (let i = 0; i < options.clients; i++) {
      const client = new SseClient({
        sub: `chaos-client-${i + 1}`,
        gateways,
        firstGateway: i,
        random: seeded(options.seed * 1000 + i),
        // Each first asks for the bars after a seeded point of the backfilled hour, as if it had bootstrapped up to
        // there: replays of every length, from the gateways' windows, before the live bars.
        fromTs: newest - Math.floor(random() * CLIENT_REPLAY_BARS) * BAR_MS,
        // Arrivals spread over one session lifetime, so some session always ends (and a new one starts) soon.
        startDelayMs: Math.round((i * sessionTtlMs) / options.clients),
      });
      clients.push(client);
      client.start();
    }
    say(`stack ready after ${Math.round(clock() / 1000)} s; ${clients.length} SSE clients; ${schedule.length} faults over ${options.minutes} min (seed ${options.seed})`);
    origin = Date.now();
    sampleMemory();
    sampler = setInterval(sampleMemory, RSS_EVERY_MS);

    const injected = await runSchedule(stack, nc, schedule, clock, say, stopped.signal, durationMs);
    stopped.signal.throwIfAborted();
    say("faults over; settling");
    const horizonTs = await settle(stack, fleet, nc, clients, notes);
    sampleMemory();
    await Promise.all(clients.map((client) => client.stop()));
    say("checking");
    const findings = await check(stack, nc, clients, { ...options, horizonTs, injected, crashes, notes, samples, durationMs });
    return { report: renderReport(findings), problems: soakProblems(findings), findings };
  } catch (error) {
    const reason = `the soak could not run to its end: ${(error as Error).message}`;
    return { report: `${reason}\nlogs: ${logDir}\n`, problems: [reason, ...notes], findings: null };
  } finally {
    if (sampler) clearInterval(sampler);
    await Promise.all(clients.map((client) => client.stop()));
    await nc?.close();
    say("stopping the stack");
    const statuses = await fleet.disposeAll();
    await fleet.closeLogs();
    for (const [name, status] of statuses) if (status !== 0 && status !== null) say(`${name} stopped with status ${status}`);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** A seeded uniform source in [0, 1). */
function seeded(seed: number): () => number {
  const word = seededWords(seed);
  return () => word() / 2 ** 32;
}

/** Carries out each fault at its time (faults of different kinds overlap), and waits out the soak's length. */
async function runSchedule(
  stack: ChaosStack,
  nc: NatsConnection,
  schedule: ReturnType<typeof faultSchedule>,
  clock: () => number,
  say: (text: string) => void,
  signal: AbortSignal,
  durationMs: number,
): Promise<InjectedFault[]> {
  const injected: InjectedFault[] = [];
  const runs = schedule.map(async (fault) => {
    await sleep(Math.max(0, fault.atMs - clock()), undefined, { signal });
    const result = await injectFault(stack, nc, fault, clock, signal);
    injected.push(result);
    say(`${faultLabel(result)} at ${clockText(result.startedAtMs)}: ${result.outcome}`);
  });
  const outcomes = await Promise.allSettled([...runs, sleep(Math.max(0, durationMs - clock()), undefined, { signal })]);
  signal.throwIfAborted();
  for (const outcome of outcomes) if (outcome.status === "rejected") throw outcome.reason;
  return injected.sort((a, b) => a.startedAtMs - b.startedAtMs);
}

/**
 * Waits, each with a deadline, for every process to be ready, then for the newest closed bar (the horizon) to be on
 * the stream, in price_15s and at every client. A wait that fails is noted; the checks then show what is missing.
 */
async function settle(stack: ChaosStack, fleet: Fleet, nc: NatsConnection, clients: readonly SseClient[], notes: string[]): Promise<number> {
  const attempt = async (what: string, condition: () => Promise<boolean> | boolean) => {
    try {
      await waitFor(condition, { timeoutMs: SETTLE_TIMEOUT_MS, intervalMs: 500, what });
    } catch (error) {
      notes.push((error as Error).message);
    }
  };
  await Promise.all(fleet.processes.map((proc) => proc.waitReady(SETTLE_TIMEOUT_MS).catch((error: Error) => notes.push(error.message))));
  const horizonTs = lastClosedBarTs(await simNow(stack.simUrl));
  await attempt("the stream to reach the horizon", async () => ((await lastStreamTs(nc, stack.names, SYMBOL)) ?? -1) >= horizonTs);
  const { bars } = await readStreamSeries(nc, stack.names, SYMBOL);
  const expectedRows = new Set(bars.filter((bar) => bar.ts <= horizonTs).map((bar) => bar.ts)).size;
  await attempt("price_15s to hold every stream bar up to the horizon", async () => (await countTableBars(stack.database.url, stack.schema, SYMBOL, horizonTs)) >= expectedRows);
  await attempt("every SSE client to reach the horizon", () => clients.every((client) => (client.lastTs ?? -1) >= horizonTs));
  return horizonTs;
}

async function check(
  stack: ChaosStack,
  nc: NatsConnection,
  clients: readonly SseClient[],
  context: SoakOptions & {
    horizonTs: number;
    injected: InjectedFault[];
    crashes: Crash[];
    notes: string[];
    samples: RssSample[];
    durationMs: number;
  },
): Promise<SoakFindings> {
  const { horizonTs } = context;
  const { bars, undecodable } = await readStreamSeries(nc, stack.names, SYMBOL);
  const firstTs = bars.length > 0 ? Math.min(...bars.map((bar) => bar.ts)) : horizonTs;
  const truth = await fetchTruth(stack.simUrl, SYMBOL, firstTs, horizonTs + BAR_MS);
  const streamByTs = latestByTs(bars);
  const rows = await readTableBars(stack.database.url, stack.schema, SYMBOL);
  const baselineAtMs = rssBaselineAtMs(context.durationMs);
  return {
    date: new Date().toISOString(),
    command: context.command,
    minutes: context.minutes,
    seed: context.seed,
    runDir: context.runDir,
    horizonTs,
    stream: checkStreamAgainstTruth(bars, truth, horizonTs),
    undecodable,
    table: checkTableAgainstStream(rows, streamByTs, horizonTs),
    clients: clients.map((client) => ({ sub: client.sub, check: checkClientSeries(client.bars, streamByTs, horizonTs), stats: client.stats })),
    rss: rssRows(context.samples, { baselineAtMs, warmMs: 30_000, minSpanMs: 30_000 }),
    rssBaselineAtMs: baselineAtMs,
    faults: context.injected,
    crashes: context.crashes,
    notes: context.notes,
  };
}
