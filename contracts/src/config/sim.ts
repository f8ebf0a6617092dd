import { z } from "zod";
import { logEnv } from "./common.ts";
import { envInt, envNumber, portSchema, symbolListSchema } from "./env.ts";

const DAY_MS = 24 * 3600_000;

/**
 * Default and bounds of each simulator knob that is both a `SIM_*` variable (below) and a `startSim()` option
 * (services/binance-sim/src/options.ts): the one place they are written.
 */
export type SimKnob = { default: number; min: number; max: number };
export const simKnobs = {
  seed: { default: 1, min: 0, max: 2_147_483_647 },
  historyHours: { default: 24, min: 0, max: 24 * 7 },
  speed: { default: 1, min: 0, max: 10_000 },
  wsLifetimeMs: { default: DAY_MS, min: 100, max: 7 * DAY_MS },
  pingIntervalMs: { default: 20_000, min: 50, max: 3600_000 },
  pongTimeoutMs: { default: 60_000, min: 50, max: 3600_000 },
  weightLimit: { default: 6000, min: 1, max: 10_000_000 },
} as const satisfies Record<string, SimKnob>;

const intKnob = (knob: SimKnob) => envInt(knob.default, knob.min, knob.max);
const numberKnob = (knob: SimKnob) => envNumber(knob.default, knob.min, knob.max);

const probability = z.number().min(0, "must be a probability from 0 to 1").max(1, "must be a probability from 0 to 1");
const wholeMs = (max: number) => z.number().int("must be whole milliseconds").min(0).max(max);

/** The next `count` REST answers of the simulator fail with `status` (then it answers normally again). */
export const restErrorBurstSchema = z.strictObject({
  status: z.union([z.literal(429), z.literal(418), z.literal(500)], { error: "expected 429, 418 or 500" }),
  count: z.number().int().min(0).max(1_000_000),
  /** `Retry-After` of the 429/418 answers, in seconds (default 1). */
  retryAfterSeconds: z.number().int().min(0).max(3 * 24 * 3600).optional(),
});

/**
 * Faults the Binance simulator injects, each off by default; set at start (`SIM_FAULTS`, `startSim({faults})`) and
 * at run time (`POST /_sim/faults`, `setFaults`). Times on the WebSocket transport are wall-clock milliseconds;
 * `wsDropAt` instants are simulated-clock epoch milliseconds.
 */
export const simFaultsSchema = z.strictObject({
  /** Cut every WebSocket connection every this many wall-clock ms (0 = never). */
  wsDropEveryMs: wholeMs(DAY_MS),
  /** Cut every WebSocket connection when the simulated clock passes each of these instants (epoch ms); instants already past when set never fire. */
  wsDropAt: z.array(z.number().int().nonnegative()).max(10_000),
  /** One-shot: cut every WebSocket connection now (reads back as false). */
  dropNow: z.boolean(),
  /** Aggregate-trade ids never sent on `@aggTrade` streams (REST still serves them: the stream shows an id jump). */
  wsWithholdIds: z.array(z.number().int().nonnegative()).max(100_000),
  /** Chance that a trade is withheld from `@aggTrade` streams, decided per id from the seed (reproducible). */
  wsWithholdProbability: probability,
  /** Chance that a WebSocket frame is sent twice. */
  wsDuplicateProbability: probability,
  /** Frames are shuffled within groups of this many before sending (0 or 1 = in order). */
  wsReorderWindow: z.number().int().min(0).max(1000),
  /** Every WebSocket frame is sent this many wall-clock ms late. */
  wsDelayMs: wholeMs(60_000),
  /** The next REST answers fail with this status, or null. */
  restErrorBurst: restErrorBurstSchema.nullable(),
  /** Every REST answer is this many ms slow. */
  restLatencyMs: wholeMs(60_000),
});
export type SimFaults = z.infer<typeof simFaultsSchema>;
export const simFaultsPatchSchema = simFaultsSchema.partial();
export type SimFaultsPatch = z.infer<typeof simFaultsPatchSchema>;

/** `SIM_NOW`: epoch milliseconds or an ISO-8601 date. */
const simNowSchema = z
  .string()
  .trim()
  .transform((value, ctx) => {
    const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
    if (!Number.isSafeInteger(ms) || ms <= 0) {
      ctx.addIssue({ code: "custom", message: "expected epoch milliseconds or an ISO-8601 date" });
      return z.NEVER;
    }
    return ms;
  });

/** `SIM_FAULTS`: a JSON object of initial faults. */
const simFaultsEnvSchema = z
  .string()
  .transform((value, ctx) => {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      ctx.addIssue({ code: "custom", message: 'expected a JSON object like {"wsDropEveryMs":30000}' });
      return z.NEVER;
    }
  })
  .pipe(simFaultsPatchSchema);

/** `npm run sim`: the Binance-protocol market simulator (services/binance-sim). */
export const simConfigSchema = z.object({
  ...logEnv,
  BINANCE_SYMBOL: symbolListSchema,
  SIM_PORT: portSchema(9090),
  /** Interface the simulator listens on (`0.0.0.0` in a container). */
  SIM_HOST: z.string().trim().min(1).default("127.0.0.1"),
  /** Tape seed: the same seed and tape start give a byte-identical market. */
  SIM_SEED: intKnob(simKnobs.seed),
  SIM_HISTORY_HOURS: numberKnob(simKnobs.historyHours),
  /** Fixed anchor "now" for reproducible tapes; unset = the wall clock at start. */
  SIM_NOW: simNowSchema.optional(),
  /** Where the tape begins (same forms as SIM_NOW); unset = SIM_NOW - SIM_HISTORY_HOURS. Same seed and start, same market. */
  SIM_TAPE_START: simNowSchema.optional(),
  /** Simulated seconds per wall-clock second (0 freezes the clock). */
  SIM_SPEED: numberKnob(simKnobs.speed),
  /** Every WebSocket connection is cut after this long (Binance: 24 h). */
  SIM_WS_LIFETIME_MS: intKnob(simKnobs.wsLifetimeMs),
  /** Server ping interval (Binance: 20 s). */
  SIM_WS_PING_INTERVAL_MS: intKnob(simKnobs.pingIntervalMs),
  /** A client whose pong does not echo a ping within this long is dropped. */
  SIM_WS_PONG_TIMEOUT_MS: intKnob(simKnobs.pongTimeoutMs),
  /** REQUEST_WEIGHT per client IP per minute (Binance: 6,000). */
  SIM_WEIGHT_LIMIT: intKnob(simKnobs.weightLimit),
  /** Whether 1 s (and longer) klines without trades are served (as flat klines) or left out. */
  SIM_EMPTY_KLINES: z.enum(["include", "omit"], { error: "expected include or omit" }).default("include"),
  /** Initial faults as JSON, e.g. `{"wsDropEveryMs":30000}` (the fault schema of `POST /_sim/faults`). */
  SIM_FAULTS: simFaultsEnvSchema.optional(),
});
export type SimConfig = z.infer<typeof simConfigSchema>;
