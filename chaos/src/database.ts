/**
 * A private PostgreSQL server for the soak: its own cluster (initdb) in a temp directory, on a free port, so it can
 * really be stopped and started again without touching the machine's server that other tests share. initdb and
 * postgres refuse to run as root: as root they run as the `postgres` user.
 */
import { spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { freePort } from "@gapfill/testkit";
import type { Fleet, ManagedProcess } from "./processes.ts";

export interface PrivatePostgres {
  process: ManagedProcess;
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
}

/** PG_BIN, else the newest /usr/lib/postgresql/<version>/bin that has initdb. */
export function postgresBinDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PG_BIN) return env.PG_BIN;
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, "bin", "initdb")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) throw new Error(`no PostgreSQL server binaries under ${root}: install postgresql or set PG_BIN`);
  return join(root, versions[0]!, "bin");
}

/** uid and gid of the `postgres` user when we are root (the server will not run as root), else nothing. */
function serverUser(): { uid: number; gid: number } | Record<string, never> {
  if (process.getuid?.() !== 0) return {};
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((entry) => entry.startsWith("postgres:"));
  if (!line) throw new Error("running as root, and there is no `postgres` user to run PostgreSQL as");
  const [, , uid, gid] = line.split(":");
  return { uid: Number(uid), gid: Number(gid) };
}

async function answers(url: string): Promise<boolean> {
  const sql = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} });
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/** initdb into `dir` (created, and handed to the server's user), then starts the server. */
export async function startPrivatePostgres(fleet: Fleet, dir: string): Promise<PrivatePostgres> {
  const bin = postgresBinDir();
  const user = serverUser();
  mkdirSync(dir, { recursive: true });
  if ("uid" in user) chownSync(dir, user.uid, user.gid);
  const dataDir = join(dir, "data");
  const init = spawnSync(join(bin, "initdb"), ["-D", dataDir, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"], {
    encoding: "utf8",
    ...user,
  });
  if (init.status !== 0) throw new Error(`initdb failed (${init.error?.message ?? `status ${init.status}`}): ${init.stderr}`);
  const port = await freePort();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const proc = fleet.add({
    name: "postgres",
    command: join(bin, "postgres"),
    // No Unix socket, no durability work: the soak needs a server to take away, not one that survives a power cut.
    args: [
      "-D", dataDir, "-p", String(port),
      "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
      "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
      "-c", "shared_buffers=32MB", "-c", "max_connections=50",
    ],
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C.UTF-8" },
    ...user,
    // Fast shutdown: sessions are ended rather than waited for.
    stopSignal: "SIGINT",
    ready: () => answers(url),
  });
  proc.start();
  await proc.waitReady(30_000);
  return { process: proc, url };
}
