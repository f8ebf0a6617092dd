import { z } from "zod";
import { describeIssues, simFaultsPatchSchema, simKnobs, SYMBOL_PATTERN, type SimFaults, type SimKnob } from "@gapfill/contracts";
import type { Logger } from "@gapfill/kit";
import type { EmptyKlines } from "./klines.ts";

export interface SimOptions {
  /** 0 = any free port (default 0 programmatically; SIM_PORT for npm run sim). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Tape seed (default 1). */
  seed?: number;
  /** Default ["BTCUSDT"]. */
  symbols?: string[];
  /** Tape history before "now", in hours (default 24). */
  historyHours?: number;
  /** Fixed anchor "now" in epoch ms for reproducible runs (default: Date.now() at start). */
  now?: number;
  /**
   * Where the tape begins, epoch ms (default: `now - historyHours`). A simulator restarted with the same seed and
   * tape start serves the same market, so a supervisor can restart it under a running ingestor.
   */
  tapeStart?: number;
  /** Simulated seconds per wall second (default 1; 0 freezes the clock at `now`). */
  speed?: number;
  /** Cut every WS connection after this long, wall-clock ms (default 24 h). */
  wsLifetimeMs?: number;
  /** Initial faults, all off by default. */
  faults?: Partial<SimFaults>;
  /** Server ping interval, wall-clock ms (default 20 s). */
  pingIntervalMs?: number;
  /** A client that does not answer a ping within this long is dropped (default 60 s). */
  pongTimeoutMs?: number;
  /** Incoming WS messages (requests, pings, pongs) a client may send per second (default 5). */
  maxIncomingPerSecond?: number;
  /** REQUEST_WEIGHT per IP per window (default 6000). */
  weightLimit?: number;
  /** Length of the weight window, wall-clock ms (default 60 000). */
  weightWindowMs?: number;
  /** 429 answers an IP may collect in one window before a 418 ban (default 10). */
  banAfterRejections?: number;
  /** First ban length, doubling per repeat ban up to 3 days (default 2 minutes). */
  banBaseMs?: number;
  /** Serve klines of intervals without trades (flat, at the previous close) or leave them out (default "include"). */
  emptyKlines?: EmptyKlines;
  /** Where the simulator logs (default: silent). */
  log?: Logger;
}

const DAY_MS = 24 * 3600_000;

/** A knob shared with `SIM_*`: its default and bounds come from contracts (simKnobs). */
const knob = (k: SimKnob) => z.number().min(k.min).max(k.max).default(k.default);
const intKnob = (k: SimKnob) => z.number().int().min(k.min).max(k.max).default(k.default);

const optionsSchema = z.strictObject({
  port: z.number().int().min(0).max(65535).default(0),
  host: z.string().min(1).default("127.0.0.1"),
  seed: intKnob(simKnobs.seed),
  symbols: z.array(z.string().regex(SYMBOL_PATTERN, "must be upper-case symbols like BTCUSDT")).min(1).default(["BTCUSDT"]),
  historyHours: knob(simKnobs.historyHours),
  now: z.number().int().positive().optional(),
  tapeStart: z.number().int().positive().optional(),
  speed: knob(simKnobs.speed),
  wsLifetimeMs: intKnob(simKnobs.wsLifetimeMs),
  faults: simFaultsPatchSchema.default({}),
  pingIntervalMs: intKnob(simKnobs.pingIntervalMs),
  pongTimeoutMs: intKnob(simKnobs.pongTimeoutMs),
  maxIncomingPerSecond: z.number().int().min(1).max(10_000).default(5),
  // No upper bound here, unlike SIM_WEIGHT_LIMIT: benchmarks lift the limit out of their way (e.g. 100,000,000).
  weightLimit: z.number().int().min(simKnobs.weightLimit.min).default(simKnobs.weightLimit.default),
  weightWindowMs: z.number().int().min(100).max(DAY_MS).default(60_000),
  banAfterRejections: z.number().int().min(0).default(10),
  banBaseMs: z.number().int().min(1).max(3 * DAY_MS).default(120_000),
  emptyKlines: z.enum(["include", "omit"]).default("include"),
});

export type ResolvedSimOptions = z.infer<typeof optionsSchema> & { log?: Logger };

/** Options with their defaults; throws an Error naming each bad option. */
export function resolveSimOptions(options: SimOptions): ResolvedSimOptions {
  const { log, ...rest } = options;
  const result = optionsSchema.safeParse(rest);
  if (!result.success) throw new Error(`startSim: invalid options: ${describeIssues(result.error)}`);
  return { ...result.data, symbols: [...new Set(result.data.symbols)], log };
}
