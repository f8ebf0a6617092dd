import { z } from "zod";
import { envBool, envUrl, namespaceSchema } from "./env.ts";

/**
 * Where bars are stored (SPEC §8). `DATABASE_URL` wins for data when both it and `SUPABASE_URL` are set; with
 * neither, the embedded store under `DATA_DIR` is used.
 */
export const storeEnv = {
  DATABASE_URL: envUrl(["postgres", "postgresql"]).optional(),
  /** Prepared statements; turn off for a transaction-mode pooler (Supabase port 6543, PgBouncer). */
  DATABASE_PREPARE: envBool(true),
  SUPABASE_URL: envUrl(["http", "https"]).optional(),
  SUPABASE_API_KEY: z.string().trim().min(1).optional(),
  SUPABASE_ANON_KEY: z.string().trim().min(1).optional(),
  /** Schema holding price_15s on DATABASE_URL; unset: the server's search_path (`public`). */
  DATABASE_SCHEMA: z
    .string()
    .trim()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, "expected a lower-case SQL identifier like public")
    .optional(),
  DATA_DIR: z.string().trim().min(1).default(".data"),
  /** The embedded store keeps one file per namespace, as JetStream keeps one stream per namespace. */
  NATS_NAMESPACE: namespaceSchema,
};

export const storeConfigSchema = z.object(storeEnv);
export type StoreConfig = z.infer<typeof storeConfigSchema>;
