import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { BAR_MS, modelManifestSchema, runIdOf } from "@gapfill/contracts";
import { TEST_SERIES_START } from "@gapfill/testkit";
import { listModelVersions, showModelVersion } from "../src/index.ts";
import { createRunnerWorld, seededMarket, type RunnerWorld } from "./support.ts";
import { TYPESCRIPT_NODE_ARGS } from "@gapfill/kit";

const CLI = fileURLToPath(new URL("../src/cli.ts", import.meta.url));
const BARS = 1200;
const WINDOW_START = TEST_SERIES_START + BARS * BAR_MS;

let world: RunnerWorld | undefined;
afterEach(async () => {
  await world?.cleanup();
  world = undefined;
});

/** `npm run model -- <args>` with the world's configuration. */
function modelCli(w: RunnerWorld, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const config = w.config();
  const env = {
    PATH: process.env.PATH,
    NATS_URL: config.NATS_URL,
    NATS_NAMESPACE: w.ns,
    OBJECT_STORE: "local",
    OBJECT_STORE_DIR: config.OBJECT_STORE_DIR!,
    LOG_FORMAT: "json",
  };
  return new Promise((resolve) => {
    execFile(process.execPath, [...TYPESCRIPT_NODE_ARGS, CLI, ...args], { env }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
    );
  });
}

describe("npm run model", () => {
  it("lists the published versions, shows one, and rolls latest.json back to one (pointer, then the event)", async () => {
    world = await createRunnerWorld({ env: { TRAIN_WINDOW_HOURS: "5", ML_GATE_TOLERANCE: "10" } });
    const market = seededMarket(TEST_SERIES_START, BARS);
    await world.store.upsertBars(market.bars);
    await world.store.upsertEmbeddings(market.embeddings);
    await world.startRunner();
    const [first, second] = [runIdOf({ kind: "retrain", window_start: WINDOW_START }), runIdOf({ kind: "retrain", window_start: WINDOW_START + 60_000 })];
    await world.publishTick(WINDOW_START);
    await world.waitForEvent("run.finished", (data) => data.run_id === first);
    await world.publishTick(WINDOW_START + 60_000);
    await world.waitForEvent("run.finished", (data) => data.run_id === second && data.outcome === "promoted");

    const registry = { objects: world.objects, modelPrefix: "model", modelJsonKey: "model/latest.json" };
    expect((await listModelVersions(registry)).map((v) => [v.manifest.version, v.current])).toEqual([
      [first, false],
      [second, true],
    ]);
    const list = await modelCli(world, ["list"]);
    expect(list.code, list.stderr).toBe(0);
    const lines = list.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^  ${first}  \\S+Z  local\\s+log_loss 0\\.\\d{4} \\(no skill 0\\.\\d{4}\\)  auc 0\\.\\d{4}  accuracy 0\\.\\d{4}  holdout \\d+$`));
    expect(lines[1]).toMatch(new RegExp(`^\\* ${second} `));
    const shown = await modelCli(world, ["show", first]);
    expect(JSON.parse(shown.stdout)).toEqual(JSON.parse(JSON.stringify(await showModelVersion(registry, first))));

    const rollback = await modelCli(world, ["promote", first]);
    expect(rollback.code, rollback.stderr).toBe(0);
    expect(rollback.stdout).toMatch(`model/latest.json now points at ${first}`);
    const published = await world.waitForEvent("model.published", (data) => data.promoted_by === "cli");
    expect(published.data).toMatchObject({ version: first, run_id: null, manifest: "model/latest.json" });
    // The pointer is the version's own manifest, byte for byte.
    expect((await world.objects.get("model/latest.json")).equals(await world.objects.get(`model/${first}/model.json`))).toBe(true);
    expect(modelManifestSchema.parse(JSON.parse((await world.objects.get("model/latest.json")).toString())).sha256.onnx).toBe(published.data.onnx_sha256);

    // A version whose file does not match its recorded sha256, an unknown version, a bad command: refused, nothing moved.
    const pointer = await world.objects.get("model/latest.json");
    await world.objects.put(`model/${second}/model.onnx`, "not a model");
    const tampered = await modelCli(world, ["promote", second]);
    expect(tampered.code).toBe(1);
    expect(tampered.stderr).toMatch(new RegExp(`model ${second}: model/${second}/model.onnx has sha256 [0-9a-f]{64}, its manifest says`));
    const unknown = await modelCli(world, ["promote", "retrain-19990101T000000Z"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no published version retrain-19990101T000000Z/);
    const usage = await modelCli(world, ["promote"]);
    expect(usage.code).toBe(64);
    expect(usage.stderr).toMatch(/^usage: npm run model -- <command>/);
    expect((await world.objects.get("model/latest.json")).equals(pointer)).toBe(true);
    expect(world.eventsOf("model.published")).toHaveLength(3);
  }, 120_000);
});
