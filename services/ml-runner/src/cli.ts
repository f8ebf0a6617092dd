/**
 * `npm run model -- list | show <version> | promote <version>`: the published models and the latest.json pointer,
 * with the ml-runner's configuration (the same object store, MODEL_PREFIX, MODEL_JSON, NATS for the event).
 */
import { parseArgs } from "node:util";
import { jetstream } from "@nats-io/jetstream";
import { mlRunnerConfigSchema, natsNames } from "@gapfill/contracts";
import { ConfigurationError, connectNats, createLogger, loadConfig, openObjectStore } from "@gapfill/kit";
import { runEvents } from "./events.ts";
import { listModelVersions, promoteModelVersion, showModelVersion, type ModelRegistry } from "./models.ts";

const USAGE = `usage: npm run model -- <command>
  list                 published versions with their holdout metrics (* = latest.json)
  show <version>       a version's latest.json entry and metrics.json (gate decision included)
  promote <version>    point latest.json at a published version (rollback), then announce ml.model.published`;

const metric = (value: number | null | undefined, digits = 4) => (value === null || value === undefined ? "-" : value.toFixed(digits));

async function main(argv: string[]): Promise<number> {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true });
  const [command, version, ...rest] = positionals;
  const wantsVersion = command === "show" || command === "promote";
  if (!command || !["list", "show", "promote"].includes(command) || (wantsVersion ? !version || rest.length > 0 : positionals.length > 1)) {
    process.stderr.write(`${USAGE}\n`);
    return 64;
  }
  const config = loadConfig(mlRunnerConfigSchema, "model");
  // Log lines share stdout with the command's output: only warnings and worse, unless LOG_LEVEL asks for more detail.
  const log = createLogger({ service: "model-cli", level: config.LOG_LEVEL === "info" ? "warn" : config.LOG_LEVEL });
  const objects = await openObjectStore(config, { log });
  const registry: ModelRegistry = { objects, modelPrefix: config.MODEL_PREFIX, modelJsonKey: config.MODEL_JSON };
  try {
    if (command === "list") {
      const versions = await listModelVersions(registry);
      if (versions.length === 0) process.stdout.write(`no published models under ${objects.location}/${config.MODEL_PREFIX}/\n`);
      for (const { manifest, current } of versions) {
        const m = manifest.metrics;
        process.stdout.write(
          `${current ? "*" : " "} ${manifest.version}  ${manifest.created_at}  ${manifest.trainer.kind.padEnd(9)} ` +
            `log_loss ${metric(m.log_loss)} (no skill ${metric(m.no_skill_log_loss)})  auc ${metric(m.auc)}  accuracy ${metric(m.accuracy)}  ` +
            `holdout ${m.holdout_rows ?? "-"}\n`,
        );
      }
    } else if (command === "show") {
      process.stdout.write(`${JSON.stringify(await showModelVersion(registry, version!), null, 2)}\n`);
    } else {
      const nc = await connectNats({ url: config.NATS_URL, name: "gapfill-model-cli", log });
      try {
        const manifest = await promoteModelVersion({ ...registry, events: runEvents(jetstream(nc), natsNames(config.NATS_NAMESPACE)) }, version!);
        process.stdout.write(`${config.MODEL_JSON} now points at ${manifest.version} (onnx sha256 ${manifest.sha256.onnx}); ml.model.published sent\n`);
      } finally {
        await nc.drain();
      }
    }
    return 0;
  } finally {
    await objects.close();
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`model: ${(error as Error).message}\n`);
  process.exitCode = error instanceof ConfigurationError ? 78 : 1;
}
