import { gatewayConfigSchema } from "@gapfill/contracts";
import { openStore, type NatsServiceSpec } from "@gapfill/kit";
import { buildApp } from "./app.ts";

/** Sessions, bootstrap pages from `price_15s` and resumable SSE gap streams over HTTP. */
export const gatewayService: NatsServiceSpec<typeof gatewayConfigSchema> = {
  name: "gateway",
  configSchema: gatewayConfigSchema,
  needs: ["bars", "sessions", "mlEvents"],
  metrics: (config) => ({ port: config.GATEWAY_METRICS_PORT, host: config.METRICS_HOST }),
  start: async ({ config, nc, log, registry }) => {
    const store = await openStore(config, { log, access: "read", applicationName: "gapfill-gateway" });
    let app: Awaited<ReturnType<typeof buildApp>> | null = null;
    try {
      app = await buildApp({ config, log, nc, store, registry });
      await app.listen({ port: config.PORT, host: config.HOST });
      let stopped: Promise<void> | null = null;
      let ended!: () => void;
      const done = new Promise<void>((resolve) => (ended = resolve));
      return {
        ready: Promise.resolve(),
        done,
        stop: () =>
          (stopped ??= (async () => {
            // Ends every gap stream with `event: end` (reason shutdown) before the server stops.
            await app!.close();
            await store.close();
            ended();
          })()),
      };
    } catch (error) {
      await app?.close();
      await store.close();
      throw error;
    }
  },
};
