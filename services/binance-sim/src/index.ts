export { startSim, type RunningSim } from "./sim.ts";
export type { SimOptions } from "./options.ts";
export type { SimStats, CutReason } from "./stats.ts";
export type { EmptyKlines } from "./klines.ts";
export type { SimFaults, SimFaultsPatch } from "@gapfill/contracts";
export { simService } from "./service.ts";
