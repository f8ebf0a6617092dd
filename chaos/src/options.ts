import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { envInt, envNumber } from "@gapfill/contracts";

/** `npm run chaos`: how long, which schedule, how many clients, where the logs go. */
export const chaosConfigSchema = z.object({
  /** Length of the fault phase; 2 minutes at least, so a 30 s database stop fits between the quiet start and end. */
  CHAOS_MINUTES: envNumber(10, 2, 24 * 60),
  /** Seeds the fault schedule, the simulated market and the clients' retry jitter: the same seed, the same soak. */
  CHAOS_SEED: envInt(1, 0, 2_147_483_647),
  CHAOS_CLIENTS: envInt(20, 1, 1000),
  /** Unset: a new directory under the system's temp directory. */
  CHAOS_RUN_DIR: z.string().trim().min(1).optional(),
});
export type ChaosConfig = z.infer<typeof chaosConfigSchema>;

export function defaultRunDir(now = new Date()): string {
  return join(tmpdir(), `gapfill-chaos-${now.toISOString().replace(/[:.]/g, "-")}`);
}
