import { provisionConfigSchema } from "@gapfill/contracts";
import { provisionTopology, topologySettingsFrom, type NatsServiceSpec } from "@gapfill/kit";

/**
 * The one owner of the JetStream topology: creates or updates every stream and bucket from the settings it reads
 * (BARS_MAX_AGE_HOURS, SESSION_TTL_SECONDS, JETSTREAM_REPLICAS), then exits. Run before the services (the stack and
 * compose do); services never change a stream, so two of them configured differently cannot fight over one.
 */
export const provisionService: NatsServiceSpec<typeof provisionConfigSchema> = {
  name: "provision",
  configSchema: provisionConfigSchema,
  needs: [],
  start: async ({ config, nc, log }) => {
    await provisionTopology(nc, topologySettingsFrom(config), log);
    return { ready: Promise.resolve(), done: Promise.resolve(), stop: async () => {} };
  },
};
