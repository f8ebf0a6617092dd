import { gatewayConfigSchema } from "@gapfill/contracts";
import {
  connectNats,
  createLogger,
  ensureJetStream,
  handleShutdown,
  jetStreamSettingsFrom,
  loadConfigOrExit,
  openStore,
} from "@gapfill/kit";
import { buildApp } from "./app.ts";

const config = loadConfigOrExit(gatewayConfigSchema, "gateway");
const log = createLogger({ service: "gateway", level: config.LOG_LEVEL });
const nc = await connectNats({ url: config.NATS_URL, name: "gateway", log });
await ensureJetStream(nc, jetStreamSettingsFrom(config), log);
const store = await openStore(config, { log, access: "read", applicationName: "gapfill-gateway" });
const app = await buildApp({ config, log, nc, store });
await app.listen({ port: config.PORT, host: config.HOST });

handleShutdown(log, [
  // Ends every gap stream with `event: end` (reason shutdown) before the server stops.
  { name: "http", close: () => app.close() },
  { name: "nats", close: () => nc.drain() },
  { name: "store", close: () => store.close() },
]);
