/** Entry point: config → store → NATS → streams → recorder → /metrics → shutdown on SIGTERM/SIGINT. */
import { recorderConfigSchema } from "@gapfill/contracts";
import {
  connectNats,
  createLogger,
  createMetricsRegistry,
  ensureJetStream,
  handleShutdown,
  shutdownWhenRejected,
  jetStreamSettingsFrom,
  loadConfigOrExit,
  serveMetrics,
  StoreConfigError,
} from "@gapfill/kit";
import { DEFAULT_TUNING, startRecorder } from "./index.ts";
import { openStoreWhenReachable } from "./open-store.ts";

const config = loadConfigOrExit(recorderConfigSchema, "recorder");
const log = createLogger({ service: "recorder", level: config.LOG_LEVEL });
const store = await openStoreWhenReachable(config, log, DEFAULT_TUNING.retry).catch((error: unknown) => {
  if (!(error instanceof StoreConfigError)) throw error;
  process.stderr.write(`recorder: invalid configuration\n  ${error.message}\n`);
  process.exit(78);
});
const nc = await connectNats({ url: config.NATS_URL, name: "gapfill-recorder", log });
await ensureJetStream(nc, jetStreamSettingsFrom(config), log);
const registry = createMetricsRegistry("recorder");
const recorder = await startRecorder({ config, nc, store, log, registry });
const metrics = await serveMetrics(registry, config.RECORDER_METRICS_PORT);
log.info({ store: store.kind, metricsPort: metrics.port }, "recorder started");
const shutdown = handleShutdown(log, [
  { name: "recorder", close: () => recorder.stop() },
  { name: "metrics", close: () => metrics.close() },
  { name: "nats", close: () => nc.drain() },
  { name: "store", close: () => store.close() },
]);
shutdownWhenRejected(recorder.live, "recorder", log, shutdown);
