import { z } from "zod";
import { logEnv } from "./common.ts";
import { natsUrlSchema, portSchema } from "./env.ts";
import { simConfigSchema } from "./sim.ts";

/** `npm start` / `npm run demo`: the supervisor that runs the whole stack on one machine. */
export const stackConfigSchema = z.object({
  NATS_URL: natsUrlSchema,
  ...logEnv,
  DATA_DIR: z.string().trim().min(1).default(".data"),
  /** Where the gateway listens; the supervisor waits for its /readyz. */
  PORT: portSchema(8000),
  /** Where the demo's Binance simulator listens. */
  SIM_PORT: portSchema(9090),
  /** Hours of simulated history each demo starts with. */
  SIM_HISTORY_HOURS: simConfigSchema.shape.SIM_HISTORY_HOURS,
  /** nats-server binary started when nothing answers at NATS_URL. */
  NATS_SERVER_BIN: z.string().trim().min(1).default("nats-server"),
});
export type StackConfig = z.infer<typeof stackConfigSchema>;
