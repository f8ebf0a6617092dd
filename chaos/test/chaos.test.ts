/**
 * The short chaos soak: `npm run chaos` with CHAOS_MINUTES=2, in this process. Its stack is its own (a private NATS
 * cluster and PostgreSQL on free ports, services as child processes), so it disturbs no other test file; the shared
 * servers are never touched.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { FAULT_KINDS } from "../src/faults.ts";
import { runSoak } from "../src/soak.ts";

it("a 2-minute soak under every kind of fault loses, duplicates and changes no bar, on the stream, in price_15s or at any client", async () => {
  const runDir = mkdtempSync(join(tmpdir(), "gapfill-chaos-test-"));
  const result = await runSoak({
    minutes: 2,
    seed: 1,
    clients: 20,
    runDir,
    command: "CHAOS_MINUTES=2 npx vitest run chaos/test/chaos.test.ts",
    progress: (line) => console.log(line),
  });
  console.log(result.report);
  expect(result.problems).toEqual([]);
  const findings = result.findings!;
  expect(new Set(findings.faults.map((fault) => fault.kind))).toEqual(new Set(FAULT_KINDS));
  // An hour of backfill and two minutes of live bars, every one of them checked.
  expect(findings.stream.messages).toBeGreaterThan(240);
  expect(findings.table.rows).toBe(findings.stream.messages);
  expect(findings.clients).toHaveLength(20);
  for (const client of findings.clients) expect(client.check.bars, client.sub).toBeGreaterThan(1);
  rmSync(runDir, { recursive: true, force: true });
}, 10 * 60_000);
