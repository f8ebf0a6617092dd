import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { resolveDataDir } from "@gapfill/kit";

/**
 * A secret kept in a file under DATA_DIR (mode 0600), created with 32 random bytes by whichever process needs it
 * first; every process sharing DATA_DIR then reads the same one. Returns the secret and the file's path.
 */
export async function loadOrCreateSecret(dataDirSetting: string, fileName: string): Promise<{ secret: Uint8Array; path: string }> {
  const dataDir = resolveDataDir(dataDirSetting);
  const path = join(dataDir, fileName);
  const read = async () => new TextEncoder().encode((await readFile(path, "utf8")).trim());
  try {
    return { secret: await read(), path };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  await mkdir(dataDir, { recursive: true });
  try {
    // "wx": if another process created it first, keep theirs so both use the same secret.
    await writeFile(path, randomBytes(32).toString("base64url"), { mode: 0o600, flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  return { secret: await read(), path };
}
