/**
 * One exit-code policy: a service that cannot work with its configuration exits 78, and the stack stops with the
 * reason instead of restarting it in a loop. Here the store configuration is the bad part (a Supabase project with
 * only a read-only key: the recorder cannot write), checked by the services' zod schemas at start.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { stackConfigSchema } from "@gapfill/contracts";
import { loadConfig } from "@gapfill/kit";
import { connectTestNats, deleteNamespaceStreams, freePort, TEST_NATS_URL, uniqueNamespace, waitFor } from "@gapfill/testkit";
import { runStack, type RunningStack } from "../src/index.ts";

const dataDir = mkdtempSync(join(tmpdir(), "gapfill-badcfg-"));
const namespace = uniqueNamespace();
let stack: RunningStack | undefined;

afterAll(async () => {
  await stack?.stop();
  const nc = await connectTestNats();
  await deleteNamespaceStreams(nc, namespace);
  await nc.close();
  rmSync(dataDir, { recursive: true, force: true });
}, 60_000);

it("stops the whole stack with the reason when a service refuses its store configuration (exit 78), never restarting it", async () => {
  const config = loadConfig(stackConfigSchema, "stack", { NATS_URL: TEST_NATS_URL, DATA_DIR: dataDir, PORT: String(await freePort()) });
  const lines: string[] = [];
  let fatalReason: string | null = null;
  stack = await runStack({
    mode: "live",
    config,
    env: {
      ...process.env,
      NATS_NAMESPACE: namespace,
      SUPABASE_URL: "http://127.0.0.1:9",
      SUPABASE_ANON_KEY: "sb_publishable_reads_only",
      // The embedder, the other writer, would refuse it too; off, it opens no store, so the recorder is the one.
      EMBEDDER: "off",
      BINANCE_REST_URL: "http://127.0.0.1:9",
      BINANCE_WS_URL: "ws://127.0.0.1:9",
      INGESTOR_METRICS_PORT: "0",
      RECORDER_METRICS_PORT: "0",
      GATEWAY_METRICS_PORT: "0",
      EMBEDDER_METRICS_PORT: "0",
      SCHEDULER_METRICS_PORT: "0",
      LOG_FORMAT: "json",
    },
    write: (text) => void lines.push(text),
    onFatal: (reason) => (fatalReason = reason),
  });
  await waitFor(() => fatalReason, { timeoutMs: 60_000, what: "the stack to give up" });
  // The writers (recorder, ml-infer) refuse a read-only key; whichever starts first stops the stack.
  const refused = /^(recorder|ml-infer) refused its configuration \(see above\)$/.exec(fatalReason!)?.[1];
  expect(refused, String(fatalReason)).toBeDefined();
  const output = lines.join("");
  expect(output).toMatch(new RegExp(`${refused} +\\| ${refused}: invalid configuration`));
  expect(output).toMatch(/SUPABASE_API_KEY: writing through the Supabase Data API needs a key allowed to write/);
  expect(output).not.toMatch(/exited .*restarting/);
  await waitFor(() => /stack +\| stopped\n/.test(lines.join("")), { timeoutMs: 30_000, what: "the stack to stop" });
  stack = undefined;
}, 120_000);
