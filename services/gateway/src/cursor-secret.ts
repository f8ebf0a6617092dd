import type { GatewayConfig } from "@gapfill/contracts";
import { loadOrCreateSecret } from "./secret-file.ts";

/** Where a gateway without any other secret keeps its cursor key (outside NODE_ENV=production only). */
export const CURSOR_SECRET_FILE = "gateway-cursor.secret";

/**
 * What the cursor MAC key is derived from (see cursorKeyFrom), and where it came from for the start-up log: a secret
 * every replica shares, never something public. CURSOR_SECRET; else the deployment's token secret (local mode's, or
 * SUPABASE_JWT_SECRET); else, for a JWKS-only deployment, a secret generated into DATA_DIR, which only processes
 * sharing DATA_DIR share: the config refuses that under NODE_ENV=production.
 */
export async function cursorSecret(
  config: Pick<GatewayConfig, "CURSOR_SECRET" | "SUPABASE_JWT_SECRET" | "DATA_DIR">,
  localSecret: Uint8Array | undefined,
): Promise<{ material: string | Uint8Array; origin: string }> {
  if (config.CURSOR_SECRET) return { material: config.CURSOR_SECRET, origin: "CURSOR_SECRET" };
  if (localSecret) return { material: localSecret, origin: "the local-mode secret" };
  if (config.SUPABASE_JWT_SECRET) return { material: config.SUPABASE_JWT_SECRET, origin: "SUPABASE_JWT_SECRET" };
  const { secret, path } = await loadOrCreateSecret(config.DATA_DIR, CURSOR_SECRET_FILE);
  return { material: secret, origin: `file ${path}` };
}
