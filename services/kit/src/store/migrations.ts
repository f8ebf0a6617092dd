import { readFile } from "node:fs/promises";
import type { Sql } from "postgres";
import { SQL_MIGRATIONS } from "@gapfill/contracts";

/** One database-wide advisory lock for migrations, so processes starting together apply them one at a time. */
const MIGRATION_LOCK = "gapfill.migrations";

/**
 * Applies the contracts' SQL files in order inside one transaction. The files are idempotent (`if not exists`),
 * and the advisory lock keeps two processes starting at once from racing on the catalog.
 */
export async function applyMigrations(sql: Sql, schema: string | undefined): Promise<string[]> {
  const files = await Promise.all(
    SQL_MIGRATIONS.map(async (migration) => ({ name: migration.name, text: await readFile(migration.url, "utf8") })),
  );
  await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtext(${MIGRATION_LOCK}))`;
    if (schema) await tx`create schema if not exists ${tx(schema)}`;
    // Several statements per file: the simple protocol runs them as one script.
    for (const file of files) await tx.unsafe(file.text).simple();
  });
  return files.map((file) => file.name);
}
