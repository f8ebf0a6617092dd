import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { BAR_MS, describeIssues, simFaultsPatchSchema, symbolSchema, type ClosedBar, type SimFaults, type SimFaultsPatch } from "@gapfill/contracts";
import type { SimStats } from "./stats.ts";

/** At most this many bars per `/_sim/bars` answer (about 17 days). */
export const MAX_TRUTH_BARS = 100_000;

const epochMs = z.string().regex(/^\d{1,15}$/, "must be epoch milliseconds").transform(Number);

const barsQuerySchema = z
  .object({ symbol: symbolSchema, from: epochMs, to: epochMs })
  .refine((q) => q.to >= q.from, { message: "must not be before from", path: ["to"] })
  .refine((q) => (q.to - q.from) / BAR_MS <= MAX_TRUTH_BARS, { message: `spans more than ${MAX_TRUTH_BARS} bars`, path: ["to"] });

export interface SimAdminDeps {
  symbols: readonly string[];
  groundTruth: (symbol: string, fromTs: number, toTs: number) => ClosedBar[];
  faults: () => SimFaults;
  setFaults: (patch: SimFaultsPatch) => SimFaults;
  stats: () => SimStats;
  resetStats: () => void;
  clockInfo: () => { now: number; anchor: number; speed: number; historyStart: number };
}

export class BadRequest extends Error {
  override name = "BadRequest";
}

function parsed<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new BadRequest(describeIssues(result.error));
  return result.data;
}

/** The simulator's own endpoints under /_sim (not Binance's): ground truth, faults, counters, clock. */
export async function simAdminRoutes(app: FastifyInstance, deps: SimAdminDeps): Promise<void> {
  app.get("/bars", async (request) => {
    const { symbol, from, to } = parsed(barsQuerySchema, request.query);
    if (!deps.symbols.includes(symbol)) throw new BadRequest(`symbol: ${symbol} is not simulated (this simulator trades ${deps.symbols.join(", ")})`);
    return deps.groundTruth(symbol, from, to);
  });

  app.get("/faults", async () => deps.faults());

  app.post("/faults", async (request) => deps.setFaults(parsed(simFaultsPatchSchema, request.body ?? {})));

  app.get("/stats", async () => deps.stats());

  app.post("/stats/reset", async () => {
    deps.resetStats();
    return deps.stats();
  });

  app.get("/clock", async () => ({ ...deps.clockInfo(), symbols: deps.symbols }));
}
