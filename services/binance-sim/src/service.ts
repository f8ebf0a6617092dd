import { simConfigSchema } from "@gapfill/contracts";
import type { PlainServiceSpec } from "@gapfill/kit";
import { startSim } from "./sim.ts";

/** `npm run sim`: the Binance-protocol market simulator (SIMULATED market data). */
export const simService: PlainServiceSpec<typeof simConfigSchema> = {
  name: "binance-sim",
  configSchema: simConfigSchema,
  start: async ({ config, log }) => {
    const sim = await startSim({
      port: config.SIM_PORT,
      host: config.SIM_HOST,
      seed: config.SIM_SEED,
      symbols: config.BINANCE_SYMBOL,
      historyHours: config.SIM_HISTORY_HOURS,
      now: config.SIM_NOW,
      tapeStart: config.SIM_TAPE_START,
      speed: config.SIM_SPEED,
      wsLifetimeMs: config.SIM_WS_LIFETIME_MS,
      pingIntervalMs: config.SIM_WS_PING_INTERVAL_MS,
      pongTimeoutMs: config.SIM_WS_PONG_TIMEOUT_MS,
      weightLimit: config.SIM_WEIGHT_LIMIT,
      emptyKlines: config.SIM_EMPTY_KLINES,
      faults: config.SIM_FAULTS,
      log,
    });
    log.info(
      { restUrl: sim.restUrl, wsUrl: sim.wsUrl, historyStart: new Date(sim.historyStart).toISOString() },
      "Binance simulator listening (SIMULATED market data)",
    );
    return sim;
  },
};
