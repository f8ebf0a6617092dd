import type { AddressInfo } from "node:net";
import { simFaultsPatchSchema, simKnobs, describeIssues, type ClosedBar, type SimFaults } from "@gapfill/contracts";
import { createLogger, type ServiceLifecycle } from "@gapfill/kit";
import { buildSimApp } from "./app.ts";
import { simClock } from "./clock.ts";
import { FaultSwitch } from "./faults.ts";
import { LiveFeed } from "./live-feed.ts";
import { marketSpec } from "./market.ts";
import { resolveSimOptions, type SimOptions } from "./options.ts";
import { SimCounters, type SimStats } from "./stats.ts";
import { Tape } from "./tape.ts";
import { referenceBars } from "./truth.ts";
import { WeightLimiter } from "./weight-limiter.ts";
import { WsHub } from "./ws-hub.ts";

/** `ready` once it listens; `done` after stop(). */
export interface RunningSim extends ServiceLifecycle {
  /** "http://127.0.0.1:<port>" → BINANCE_REST_URL. */
  restUrl: string;
  /** "ws://127.0.0.1:<port>" → BINANCE_WS_URL (paths /ws/<stream>, /stream?streams=). */
  wsUrl: string;
  /** Current simulated time in epoch ms (anchor + elapsed wall time × speed). */
  clock(): number;
  /** Same as GET /_sim/bars: the exact closed 15 s bars with open times in [fromTs, toTs). */
  groundTruth(symbol: string, fromTs: number, toTs: number): ClosedBar[];
  /** Same as POST /_sim/faults. */
  setFaults(patch: Partial<SimFaults>): void;
  /** Same as GET /_sim/faults. */
  faults(): SimFaults;
  /** Same as GET /_sim/stats. */
  stats(): SimStats;
  /** Zeroes the counters of stats() (not the weight limiter's state). */
  resetStats(): void;
  /** Where the tape starts: `tapeStart`, else `now - historyHours`. */
  historyStart: number;
}

/** A little above the ~84,000 aggregate trades of a simulated hour, so the tape's arrays are sized once. */
const TRADES_PER_HOUR = 100_000;

/**
 * Starts a Binance-protocol market simulator: a deterministic tape per symbol from the seed, served over REST and
 * WebSocket as Binance serves it, with rate limits, fault switches and the tape's exact 15 s bars as ground truth.
 */
export async function startSim(options: SimOptions = {}): Promise<RunningSim> {
  const config = resolveSimOptions(options);
  const log = config.log ?? createLogger({ service: "binance-sim", level: "silent" });
  const anchor = config.now ?? Date.now();
  const clock = simClock(anchor, config.speed);
  const historyStart = config.tapeStart ?? anchor - Math.round(config.historyHours * 3_600_000);
  const tapeHours = (anchor - historyStart) / 3_600_000;
  if (tapeHours < 0 || tapeHours > simKnobs.historyHours.max) {
    throw new Error(`startSim: invalid options: tapeStart must lie within ${simKnobs.historyHours.max} hours before now`);
  }
  const tapes = new Map(
    config.symbols.map((symbol) => [
      symbol,
      new Tape({ spec: marketSpec(symbol), seed: config.seed, startMs: historyStart, expectedTrades: Math.ceil((tapeHours + 1) * TRADES_PER_HOUR) }),
    ]),
  );
  const generationStarted = performance.now();
  for (const tape of tapes.values()) tape.extendTo(clock());
  log.info({ symbols: config.symbols, trades: [...tapes.values()].reduce((n, tape) => n + tape.length, 0), ms: Math.round(performance.now() - generationStarted) }, "tape generated");

  const faults = new FaultSwitch(config.seed, config.faults);
  const counters = new SimCounters();
  const limiter = new WeightLimiter({
    limit: config.weightLimit,
    windowMs: config.weightWindowMs,
    banAfterRejections: config.banAfterRejections,
    banBaseMs: config.banBaseMs,
    banMaxMs: 3 * 24 * 3_600_000,
  });
  const hub = new WsHub({
    symbols: new Set(config.symbols),
    pingIntervalMs: config.pingIntervalMs,
    pongTimeoutMs: config.pongTimeoutMs,
    lifetimeMs: config.wsLifetimeMs,
    maxIncomingPerSecond: config.maxIncomingPerSecond,
    faults,
    counters,
    seed: config.seed,
    log,
  });

  const groundTruth = (symbol: string, fromTs: number, toTs: number): ClosedBar[] => {
    const tape = tapes.get(symbol);
    if (!tape) throw new Error(`groundTruth: ${symbol} is not simulated (this simulator trades ${config.symbols.join(", ")})`);
    const now = clock();
    tape.extendTo(now);
    return referenceBars(tape, fromTs, toTs, now);
  };
  const setFaults = (patch: Partial<SimFaults>): SimFaults => {
    const result = simFaultsPatchSchema.safeParse(patch);
    if (!result.success) throw new Error(`setFaults: ${describeIssues(result.error)}`);
    log.info({ faults: result.data }, "faults changed");
    return faults.apply(result.data);
  };
  const stats = () => counters.snapshot({ weightByIp: limiter.usedWeights(), openConnections: hub.openConnections });

  const app = buildSimApp({
    rest: { tapes, clock, limiter, weightWindowMs: config.weightWindowMs, faults, counters, emptyKlines: config.emptyKlines },
    admin: {
      symbols: config.symbols,
      groundTruth,
      faults: () => faults.current,
      setFaults,
      stats,
      resetStats: () => counters.reset(),
      clockInfo: () => ({ now: clock(), anchor, speed: config.speed, historyStart }),
    },
    counters,
    log,
  });
  hub.attach(app.server);
  await app.listen({ port: config.port, host: config.host });
  const { port } = app.server.address() as AddressInfo;
  const feed = new LiveFeed({ tapes, clock, speed: config.speed, hub, faults, counters, emptyKlines: config.emptyKlines, log });
  feed.start();

  let stopping: Promise<void> | null = null;
  let ended!: () => void;
  const done = new Promise<void>((resolve) => (ended = resolve));
  return {
    restUrl: `http://${config.host}:${port}`,
    wsUrl: `ws://${config.host}:${port}`,
    clock,
    groundTruth,
    setFaults: (patch) => void setFaults(patch),
    faults: () => faults.current,
    stats,
    resetStats: () => counters.reset(),
    historyStart,
    ready: Promise.resolve(),
    done,
    stop: () =>
      (stopping ??= (async () => {
        feed.stop();
        await hub.close();
        await app.close();
        ended();
      })()),
  };
}
