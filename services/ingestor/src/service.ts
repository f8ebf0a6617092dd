import { ingestorConfigSchema } from "@gapfill/contracts";
import type { NatsServiceSpec } from "@gapfill/kit";
import { startIngestor } from "./ingestor.ts";

/** Binance aggTrades → exact 15 s bars → the bars stream, each bar once. */
export const ingestorService: NatsServiceSpec<typeof ingestorConfigSchema> = {
  name: "ingestor",
  configSchema: ingestorConfigSchema,
  needs: ["bars"],
  metrics: (config) => ({ port: config.INGESTOR_METRICS_PORT, host: config.METRICS_HOST }),
  start: async ({ config, nc, log, registry }) => {
    log.info({ symbols: config.BINANCE_SYMBOL, rest: config.BINANCE_REST_URL, ws: config.BINANCE_WS_URL }, "ingesting");
    return startIngestor({ config, nc, log, registry });
  },
};
