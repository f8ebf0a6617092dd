import { z } from "zod";
import { natsEnv } from "./common.ts";
import { envBool, envUrl } from "./env.ts";

/**
 * Where bars, embeddings and predictions are stored. `DATABASE_URL` wins for data when both it and `SUPABASE_URL` are set; with
 * neither, the embedded store under `DATA_DIR` is used.
 */
export const storeEnv = {
  /**
   * Direct Postgres connection (or a Supabase connection string) for `price_15s`, `ai_outputs`, `ml_predictions`;
   * wins over SUPABASE_URL for data.
   */
  DATABASE_URL: envUrl(["postgres", "postgresql"]).optional(),
  /** Prepared statements; turn off for a transaction-mode pooler (Supabase port 6543, PgBouncer). */
  DATABASE_PREPARE: envBool(true),
  /** The Supabase project: token verification (gateway), and data through its Data API when DATABASE_URL is unset. */
  SUPABASE_URL: envUrl(["http", "https"]).optional(),
  /** Data API key; writers (recorder, embedder, ml-infer) need one allowed to write (service_role or sb_secret_). */
  SUPABASE_API_KEY: z.string().trim().min(1).optional(),
  /** Data API key for reading (anon or sb_publishable_); used when SUPABASE_API_KEY is unset. */
  SUPABASE_ANON_KEY: z.string().trim().min(1).optional(),
  /** Schema holding price_15s on DATABASE_URL; unset: the server's search_path (`public`). */
  DATABASE_SCHEMA: z
    .string()
    .trim()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, "expected a lower-case SQL identifier like public")
    .optional(),
  /**
   * Where local state lives when no database is set: the embedded store (one file per namespace), the gateway's
   * local secret, local objects. A relative path is under the repository root.
   */
  DATA_DIR: z.string().trim().min(1).default(".data"),
  // The embedded store keeps one file per namespace, as JetStream keeps one stream per namespace.
  NATS_NAMESPACE: natsEnv.NATS_NAMESPACE,
};

export const storeConfigSchema = z.object(storeEnv);

/**
 * What a Supabase API key may do, as far as its form tells: legacy keys are JWTs with a `role` claim (`anon`,
 * `service_role`); new keys are `sb_publishable_…` (like anon) or `sb_secret_…` (like service_role).
 */
export function supabaseKeyRole(key: string): "read-only" | "write" | "unknown" {
  if (key.startsWith("sb_publishable_")) return "read-only";
  if (key.startsWith("sb_secret_")) return "write";
  const [, payload] = key.split(".");
  if (!payload) return "unknown";
  try {
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { role?: unknown };
    if (claims.role === "service_role") return "write";
    if (claims.role === "anon" || claims.role === "authenticated") return "read-only";
  } catch {
    return "unknown";
  }
  return "unknown";
}

type StoreSelection = Pick<StoreConfig, "DATABASE_URL" | "SUPABASE_URL" | "SUPABASE_API_KEY" | "SUPABASE_ANON_KEY">;
export type StoreAccess = "read" | "write";

/**
 * Why the store a configuration selects cannot serve `access`, naming the variable to fix; null when it can. Only the
 * Supabase Data API has keys to get wrong: reads take SUPABASE_API_KEY or SUPABASE_ANON_KEY, writes need
 * SUPABASE_API_KEY holding a key allowed to write.
 */
export function storeAccessProblem(config: StoreSelection, access: StoreAccess): { variable: string; message: string } | null {
  if (config.DATABASE_URL || !config.SUPABASE_URL) return null;
  if (access === "read") {
    if (config.SUPABASE_API_KEY || config.SUPABASE_ANON_KEY) return null;
    return {
      variable: "SUPABASE_API_KEY",
      message: "SUPABASE_URL is set but no Data API key: set SUPABASE_API_KEY or SUPABASE_ANON_KEY (or DATABASE_URL)",
    };
  }
  const key = config.SUPABASE_API_KEY;
  if (key && supabaseKeyRole(key) !== "read-only") return null;
  return {
    variable: "SUPABASE_API_KEY",
    message:
      `writing through the Supabase Data API needs a key allowed to write, but ${
        key ? "SUPABASE_API_KEY is an anon/publishable key" : "SUPABASE_API_KEY is unset"
      }${config.SUPABASE_ANON_KEY ? " (SUPABASE_ANON_KEY cannot write)" : ""}: set SUPABASE_API_KEY to the project's ` +
      "service_role or sb_secret_ key, or set DATABASE_URL to write over a direct Postgres connection",
  };
}

/** The cross-field store rule as a zod refinement, so a service refuses the configuration at start. */
export function refineStoreAccess(access: StoreAccess) {
  return (config: StoreSelection, ctx: z.RefinementCtx): void => {
    const problem = storeAccessProblem(config, access);
    if (problem) ctx.addIssue({ code: "custom", path: [problem.variable], message: problem.message });
  };
}
export type StoreConfig = z.infer<typeof storeConfigSchema>;
