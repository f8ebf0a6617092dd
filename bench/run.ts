/**
 * `npm run bench [-- <name filter>]`: runs every bench/*.bench.ts one after another in its own process (so one
 * benchmark's heap and sockets never skew the next) and stops at the first failure. Each benchmark prints its
 * figures and their ratio to a floor it measures in the same run.
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { TYPESCRIPT_NODE_ARGS } from "@gapfill/kit";

const benchDir = dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2] ?? "";
const files = readdirSync(benchDir)
  .filter((file) => file.endsWith(".bench.ts") && file.includes(filter))
  .sort();
if (files.length === 0) {
  console.error(`no benchmark matches "${filter}" in ${benchDir}`);
  process.exit(1);
}
for (const file of files) {
  console.log(`\n### ${file}`);
  const run = spawnSync(process.execPath, [...TYPESCRIPT_NODE_ARGS, join(benchDir, file)], { stdio: "inherit" });
  if (run.status !== 0) {
    console.error(`${file} failed with status ${run.status ?? run.signal}`);
    process.exit(1);
  }
}
