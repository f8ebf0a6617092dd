import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (this file is services/kit/src/data-dir.ts), where `npm start` runs every service. */
export const REPO_ROOT = fileURLToPath(new URL("../../..", import.meta.url));

/**
 * A relative DATA_DIR names a folder under the repository root, wherever a service or `npm run token` was started
 * from (`npm start -w <service>` runs in its own folder), so all of them find the same store and local secret.
 */
export function resolveDataDir(dataDir: string): string {
  return resolve(REPO_ROOT, dataDir);
}
