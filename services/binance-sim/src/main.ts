import { simConfigSchema } from "@gapfill/contracts";
import { createLogger, handleShutdown, loadConfigOrExit } from "@gapfill/kit";
import { startSim } from "./index.ts";

const config = loadConfigOrExit(simConfigSchema, "binance-sim");
const log = createLogger({ service: "binance-sim", level: config.LOG_LEVEL });
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
log.info({ restUrl: sim.restUrl, wsUrl: sim.wsUrl, historyStart: new Date(sim.historyStart).toISOString() }, "Binance simulator listening (SIMULATED market data)");
handleShutdown(log, [{ name: "simulator", close: () => sim.stop() }]);
