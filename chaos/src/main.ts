/**
 * `npm run chaos`: the whole stack under a seeded schedule of faults for CHAOS_MINUTES (default 10), then one report
 * of what was lost, duplicated or wrong. Exit status 0 for a clean soak, 1 for any problem, 78 for bad settings.
 */
import { loadConfig, ConfigurationError } from "@gapfill/kit";
import { chaosConfigSchema, defaultRunDir } from "./options.ts";
import { runSoak } from "./soak.ts";

let config;
try {
  config = loadConfig(chaosConfigSchema, "chaos");
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(error instanceof ConfigurationError ? 78 : 1);
}
const settings = [`CHAOS_MINUTES=${config.CHAOS_MINUTES}`, `CHAOS_SEED=${config.CHAOS_SEED}`];
if (config.CHAOS_CLIENTS !== 20) settings.push(`CHAOS_CLIENTS=${config.CHAOS_CLIENTS}`);
// The first Ctrl-C stops the soak in order (its servers' data deleted, logs kept); a second one exits at once.
const interrupt = new AbortController();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (interrupt.signal.aborted) process.exit(130);
    process.stderr.write(`chaos: ${signal}; stopping everything (again to exit at once)\n`);
    interrupt.abort();
  });
}
const result = await runSoak({
  minutes: config.CHAOS_MINUTES,
  seed: config.CHAOS_SEED,
  clients: config.CHAOS_CLIENTS,
  runDir: config.CHAOS_RUN_DIR ?? defaultRunDir(),
  command: `${settings.join(" ")} npm run chaos`,
  progress: (line) => process.stderr.write(`${line}\n`),
  signal: interrupt.signal,
});
process.stdout.write(result.report);
process.exit(result.problems.length === 0 ? 0 : 1);
