import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, expect, it } from "vitest";
import { BAR_MS, barOpenTime, closedBarSchema } from "@gapfill/contracts";
import { TEST_NATS_URL, waitFor } from "@gapfill/testkit";
import { createWorld, expectSeriesMatchesTruth, SYMBOL, waitForBarAt, type IngestWorld } from "./support/harness.ts";
import { TYPESCRIPT_NODE_ARGS } from "@gapfill/kit";

const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));

let world: IngestWorld;
const children: ChildProcess[] = [];
let output = "";
afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await world?.cleanup();
});

/** `src/main.ts` as its own process, the way it runs in production, against the simulator. */
function startIngestorProcess(): ChildProcess {
  const child = spawn(process.execPath, [...TYPESCRIPT_NODE_ARGS, MAIN], {
    env: {
      ...process.env,
      NATS_URL: TEST_NATS_URL,
      NATS_NAMESPACE: world.ns,
      BINANCE_SYMBOL: SYMBOL,
      BINANCE_REST_URL: world.sim.restUrl,
      BINANCE_WS_URL: world.sim.wsUrl,
      INGEST_BACKFILL_HOURS: "0.01",
      INGESTOR_METRICS_PORT: "0",
      LOG_LEVEL: "info",
      LOG_FORMAT: "json",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  children.push(child);
  return child;
}

const exited = (child: ChildProcess) =>
  new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once("exit", (code, signal) => resolve({ code, signal }));
  });

it("loses and repeats nothing across a kill -9 mid-bucket and a restart", async () => {
  // Real time (speed 1): the ingestor process runs on the wall clock, like the simulator then.
  world = await createWorld({ historyHours: 0.25, speed: 1 });
  const jsm = await jetstreamManager(world.nc);
  const lastBar = async () => {
    const message = await jsm.direct.getMessage(world.names.streams.bars, { last_by_subj: world.names.subjects.bars(SYMBOL) });
    return message ? closedBarSchema.parse(message.json()) : null;
  };
  try {
    const first = startIngestorProcess();
    await waitFor(async () => /following the live stream/.test(output) && (await lastBar()) !== null, {
      timeoutMs: 40_000,
      intervalMs: 100,
      what: "a live ingestor with bars published",
    });
    // Inside a bucket, well away from its edges, with trades of the bucket already folded in.
    await waitFor(() => {
      const phase = world.sim.clock() % BAR_MS;
      return phase > 3000 && phase < 12_000;
    }, { timeoutMs: 20_000, what: "the middle of a bucket" });
    const killedAt = world.sim.clock();
    first.kill("SIGKILL");
    expect((await exited(first)).signal).toBe("SIGKILL");
    const lastBeforeKill = (await lastBar())!.ts;
    expect(lastBeforeKill).toBeLessThan(barOpenTime(killedAt));

    // Trades go on while nothing ingests; then a new process resumes from the stream's last bar.
    await waitFor(() => world.sim.clock() > killedAt + 2000, { what: "two seconds of downtime" });
    const second = startIngestorProcess();
    const series = await waitForBarAt(world, barOpenTime(killedAt), { timeoutMs: 60_000 });
    expectSeriesMatchesTruth(series, world.sim);
    expect(series.some((record) => record.bar.ts === barOpenTime(killedAt))).toBe(true);
    expect(output).toMatch(/"resumed":true/);

    // The process serves its metrics where its log says.
    const started = output.split("\n").findLast((line) => line.includes('"msg":"ingestor started"'))!;
    const port = (JSON.parse(started) as { metricsPort: number }).metricsPort;
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    for (const name of ["ingestor_trades_in_total", "ingestor_bars_published_total", "ingestor_repairs_total", "ingestor_rest_weight_used", "ingestor_last_bar_lag_seconds"]) {
      expect(metrics).toContain(name);
    }
    expect(metrics).toMatch(/ingestor_bars_published_total\{[^}]*symbol="BTCUSDT"[^}]*\} [1-9]/);

    second.kill("SIGTERM");
    expect((await exited(second)).code).toBe(0);
  } catch (error) {
    console.error(output);
    throw error;
  }
}, 150_000);
