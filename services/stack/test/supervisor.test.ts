import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort, waitFor } from "@gapfill/testkit";
import { REPO_ROOT } from "@gapfill/kit";
import { natsAnswers, NatsServerMissingError, startLocalNatsServer, Supervisor } from "../src/index.ts";

const tmp = mkdtempSync(join(tmpdir(), "gapfill-stack-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function node(name: string, script: string) {
  return { name, command: process.execPath, args: ["-e", script], env: { PATH: process.env.PATH }, cwd: tmp };
}

describe("supervisor", () => {
  it("prefixes each line with the service name and restarts a service that dies", async () => {
    const lines: string[] = [];
    const supervisor = new Supervisor((text) => lines.push(text), () => {}, false, ["flaky"]);
    supervisor.start(node("flaky", "console.log('hello'); setTimeout(() => process.exit(3), 50)"));
    await waitFor(() => lines.filter((l) => l === "flaky    | hello\n").length >= 2, { what: "a restart", timeoutMs: 10_000 });
    expect(lines.some((l) => /stack +\| flaky exited \(code 3\); restarting in 500 ms/.test(l))).toBe(true);
    await supervisor.stopAll(2000);
  });

  it("treats exit status 78 (bad configuration) as fatal instead of restarting", async () => {
    const fatal: string[] = [];
    const supervisor = new Supervisor(() => {}, (reason) => fatal.push(reason));
    supervisor.start(node("gateway", "process.exit(78)"));
    await waitFor(() => fatal.length === 1, { what: "the fatal callback" });
    expect(fatal[0]).toMatch(/gateway refused its configuration/);
    await supervisor.stopAll(2000);
  });

  it("stops children with SIGTERM and kills one that ignores it after the timeout", async () => {
    const lines: string[] = [];
    const supervisor = new Supervisor((text) => lines.push(text), () => {});
    supervisor.start(node("polite", "setInterval(() => {}, 1000)"));
    supervisor.start(node("stubborn", "process.on('SIGTERM', () => {}); console.log('up'); setInterval(() => {}, 1000)"));
    await waitFor(() => supervisor.pid("polite") && lines.includes("stubborn | up\n"), { what: "both children" });
    const started = Date.now();
    await supervisor.stopAll(500);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(lines).toContain("stack    | stubborn did not stop in 500 ms; killing it\n");
  });
});

describe("local nats-server", () => {
  it("starts nats-server with the repo's nats.conf on the NATS_URL port and stops it", async () => {
    const port = await freePort();
    const url = `nats://127.0.0.1:${port}`;
    expect(await natsAnswers(url)).toBe(false);
    const server = await startLocalNatsServer({
      bin: "nats-server",
      url,
      confPath: join(REPO_ROOT, "nats.conf"),
      storeDir: join(tmp, "nats"),
      onOutput: () => {},
    });
    expect(await natsAnswers(url)).toBe(true);
    await server.stop();
    expect(await natsAnswers(url)).toBe(false);
  });

  it("says how to get a server when the binary is missing", async () => {
    await expect(
      startLocalNatsServer({ bin: "no-such-nats-server", url: "nats://127.0.0.1:1", confPath: "x", storeDir: tmp, onOutput: () => {} }),
    ).rejects.toThrow(NatsServerMissingError);
    await expect(
      startLocalNatsServer({ bin: "no-such-nats-server", url: "nats://127.0.0.1:1", confPath: "x", storeDir: tmp, onOutput: () => {} }),
    ).rejects.toThrow(/apt-get install nats-server.*or point NATS_URL/);
  });
});
