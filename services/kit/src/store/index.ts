import { storeAccessProblem, supabaseKeyRole, type StoreAccess, type StoreConfig } from "@gapfill/contracts";
import type { Logger } from "../log.ts";
import { embeddedDbFile, openEmbeddedStore } from "./embedded.ts";
import { StoreConfigError } from "./errors.ts";
import { describeDatabaseUrl, openPostgresStore } from "./postgres.ts";
import { openSupabaseStore } from "./supabase.ts";
import type { Store, StoreKind } from "./types.ts";
import { resolveDataDir } from "../data-dir.ts";

export type {
  BarPageQuery,
  BarStore,
  EmbeddingExportQuery,
  EmbeddingInput,
  EmbeddingRow,
  EmbeddingStore,
  NewestEmbeddingsQuery,
  PredictionRow,
  PredictionsSinceQuery,
  PredictionStore,
  Store,
  StoreKind,
} from "./types.ts";
export { StoreConfigError, StoreInputError, StoreUnavailableError } from "./errors.ts";
export { deleteEmbeddedStore, EMBEDDED_DB_FILE, embeddedDbFile, openEmbeddedStore, type EmbeddedStoreOptions } from "./embedded.ts";
export { DEFAULT_EXPORT_PAGE_SIZE, MAX_EMBEDDING_DIM, MAX_PAGE_LIMIT } from "./input.ts";
export { openPostgresStore, type PostgresStoreOptions } from "./postgres.ts";
export { openSupabaseStore, type SupabaseStoreOptions } from "./supabase.ts";
export { openStoreWhenReachable, type OpenStoreWhenReachableOptions } from "./when-reachable.ts";

export interface OpenStoreOptions {
  log: Logger;
  /** "write" for the recorder: refuses a configuration that cannot write (a read-only Supabase key). */
  access: StoreAccess;
  /** Shown to the database as the client's name (Postgres `application_name`). */
  applicationName?: string;
}

/** Which adapter a configuration selects: DATABASE_URL wins for data, then SUPABASE_URL, else the embedded store. */
export function storeKindOf(config: StoreConfig): StoreKind {
  if (config.DATABASE_URL) return "postgres";
  if (config.SUPABASE_URL) return "supabase";
  return "embedded";
}

/** The Data API key for the access asked for; a key that cannot serve it is refused (see storeAccessProblem). */
export function supabaseKeyFor(config: StoreConfig, access: StoreAccess): { key: string; variable: string } {
  const problem = storeAccessProblem(config, access);
  if (problem) throw new StoreConfigError(problem.message);
  if (access === "write" || config.SUPABASE_API_KEY) return { key: config.SUPABASE_API_KEY!, variable: "SUPABASE_API_KEY" };
  return { key: config.SUPABASE_ANON_KEY!, variable: "SUPABASE_ANON_KEY" };
}

/** Opens the store the configuration selects and logs which one, never a key or password. */
export async function openStore(config: StoreConfig, options: OpenStoreOptions): Promise<Store> {
  const kind = storeKindOf(config);
  switch (kind) {
    case "postgres": {
      const url = config.DATABASE_URL!;
      options.log.info(
        {
          store: kind,
          database: describeDatabaseUrl(url),
          schema: config.DATABASE_SCHEMA ?? "(search_path)",
          prepare: config.DATABASE_PREPARE,
          supabaseAuthOnly: Boolean(config.SUPABASE_URL),
        },
        "bar store: Postgres (DATABASE_URL)",
      );
      return openPostgresStore({
        url,
        prepare: config.DATABASE_PREPARE,
        schema: config.DATABASE_SCHEMA,
        log: options.log,
        applicationName: options.applicationName,
      });
    }
    case "supabase": {
      const url = config.SUPABASE_URL!;
      const { key, variable } = supabaseKeyFor(config, options.access);
      const role = supabaseKeyRole(key);
      options.log.info({ store: kind, url, key: variable, keyRole: role }, "bar store: Supabase Data API (SUPABASE_URL)");
      if (options.access === "write" && role === "unknown") {
        options.log.warn({ key: variable }, "cannot tell from its form whether the Supabase key may write; the first upsert will tell");
      }
      return openSupabaseStore({ url, key, log: options.log });
    }
    case "embedded": {
      const dataDir = resolveDataDir(config.DATA_DIR);
      const file = embeddedDbFile(config.NATS_NAMESPACE);
      options.log.info({ store: kind, dataDir, file }, "bar store: embedded SQLite under DATA_DIR");
      return openEmbeddedStore({ dataDir, namespace: config.NATS_NAMESPACE, log: options.log });
    }
  }
}
