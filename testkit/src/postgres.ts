import postgres, { type Sql } from "postgres";

export type { Sql } from "postgres";

/** The machine's PostgreSQL (trust auth, database `test`), or TEST_DATABASE_URL. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** Host and port of the test database, for a proxy placed in front of it. */
export function testDatabaseAddress(url = TEST_DATABASE_URL): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port || 5432) };
}

/** The test database's URL with its host and port replaced: the same user and database through a proxy. */
export function testDatabaseUrlVia(port: number, host = "127.0.0.1", url = TEST_DATABASE_URL): string {
  const parsed = new URL(url);
  parsed.hostname = host;
  parsed.port = String(port);
  return parsed.toString();
}

/** A direct connection for a test's own checks, outside the code under test. */
export function connectTestPostgres(url = TEST_DATABASE_URL): Sql {
  return postgres(url, { max: 2, onnotice: () => {} });
}

/** Drops a test's schema and everything in it. */
export async function dropTestSchema(sql: Sql, schema: string): Promise<void> {
  if (!/^t[a-z0-9_]+$/.test(schema)) throw new Error(`refusing to drop ${JSON.stringify(schema)}: not a test namespace`);
  await sql`drop schema if exists ${sql(schema)} cascade`;
}
