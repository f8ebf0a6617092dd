import type { StoreConfig } from "@gapfill/contracts";
import type { Logger } from "../log.ts";
import { StoreConfigError } from "./errors.ts";
import { openPostgresStore } from "./postgres.ts";
import type { BarStore, StoreKind } from "./types.ts";

export type { BarPageQuery, BarStore, StoreKind } from "./types.ts";
export { StoreConfigError, StoreInputError } from "./errors.ts";
export { MAX_PAGE_LIMIT } from "./input.ts";
export { openPostgresStore, type PostgresStoreOptions } from "./postgres.ts";

export interface OpenStoreOptions {
  log: Logger;
  /** "write" for the recorder: refuses a configuration that cannot write (a read-only Supabase key). */
  access: "read" | "write";
  /** Shown to the database as the client's name (Postgres `application_name`). */
  applicationName?: string;
}

/** Which adapter a configuration selects: DATABASE_URL wins for data, then SUPABASE_URL, else the embedded store. */
export function storeKindOf(config: StoreConfig): StoreKind {
  if (config.DATABASE_URL) return "postgres";
  if (config.SUPABASE_URL) return "supabase";
  return "embedded";
}

/** Where a connection string points, without its credentials: safe to log. */
function describeDatabaseUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.hostname}${parsed.port ? `:${parsed.port}` : ""}${parsed.pathname}`;
}

/** Opens the bar store the configuration selects (SPEC §8) and logs which one, never a key or password. */
export async function openStore(config: StoreConfig, options: OpenStoreOptions): Promise<BarStore> {
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
    default:
      throw new StoreConfigError(`the ${kind} bar store is not available yet: set DATABASE_URL`);
  }
}
