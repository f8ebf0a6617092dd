import { describe, expect, it } from "vitest";
import { createLogger, handleShutdown } from "../src/index.ts";

const log = createLogger({ service: "test", level: "silent" });

function recordingExit() {
  let resolveExit!: (code: number) => void;
  const exited = new Promise<number>((resolve) => (resolveExit = resolve));
  return { exit: (code: number) => resolveExit(code), exited };
}

describe("graceful shutdown", () => {
  it("runs the closers in order once, then exits 0", async () => {
    const order: string[] = [];
    const { exit, exited } = recordingExit();
    const shutdown = handleShutdown(
      log,
      [
        { name: "http", close: async () => void order.push("http") },
        { name: "nats", close: () => void order.push("nats") },
      ],
      { exit },
    );
    await Promise.all([shutdown("test"), shutdown("again")]);
    expect(await exited).toBe(0);
    expect(order).toEqual(["http", "nats"]);
  });

  it("bounds a stuck closer by the timeout, still runs the rest, and exits 1", async () => {
    const order: string[] = [];
    const { exit, exited } = recordingExit();
    const shutdown = handleShutdown(
      log,
      [
        { name: "stuck", close: () => new Promise(() => {}) },
        { name: "failing", close: () => Promise.reject(new Error("boom")) },
        { name: "store", close: () => void order.push("store") },
      ],
      { exit, timeoutMs: 200 },
    );
    const started = Date.now();
    await shutdown("test");
    expect(await exited).toBe(1);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(order).toEqual(["store"]);
  });

  it("exits with the status it was started with after closing everything", async () => {
    const order: string[] = [];
    const { exit, exited } = recordingExit();
    const shutdown = handleShutdown(log, [{ name: "nats", close: () => void order.push("nats") }], { exit });
    await shutdown("failure", { exitCode: 78 });
    expect(await exited).toBe(78);
    expect(order).toEqual(["nats"]);
  });
});
