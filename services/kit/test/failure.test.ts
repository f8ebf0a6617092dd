import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { describeFailure, OutageLog } from "../src/failure.ts";
import { connectNats } from "../src/nats.ts";
import { capturingLogger, freePort } from "@gapfill/testkit";

/** What fetch rejects with for `url`. */
async function fetchFailure(url: string): Promise<unknown> {
  return fetch(url, { signal: AbortSignal.timeout(5000) }).then(
    () => expect.unreachable(`${url} should not answer`),
    (error: unknown) => error,
  );
}

describe("describeFailure", () => {
  it("names an unresolvable host (a .invalid name never resolves, RFC 6761)", async () => {
    expect(describeFailure(await fetchFailure("http://data-api.binance.invalid/api/v3/time"))).toBe(
      "fetch failed: getaddrinfo ENOTFOUND data-api.binance.invalid",
    );
  });

  it("names the address and port of a refused connection", async () => {
    const port = await freePort();
    expect(describeFailure(await fetchFailure(`http://127.0.0.1:${port}/`))).toBe(`fetch failed: connect ECONNREFUSED 127.0.0.1:${port}`);
  });

  it("names a TLS failure: https to a port that speaks plain HTTP", async () => {
    const server = createServer((_req, res) => res.end("plain"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      expect(describeFailure(await fetchFailure(`https://127.0.0.1:${port}/`))).toMatch(/^fetch failed: .*(SSL|TLS|ssl|tls)/);
    } finally {
      server.close();
    }
  });

  it("says each attempt of an AggregateError, a service error's name, and anything thrown", () => {
    const refused = (address: string) => Object.assign(new Error(`connect ECONNREFUSED ${address}`), { code: "ECONNREFUSED" });
    expect(describeFailure(new AggregateError([refused("::1:5432"), refused("127.0.0.1:5432")]))).toBe(
      "connect ECONNREFUSED ::1:5432; connect ECONNREFUSED 127.0.0.1:5432",
    );
    expect(describeFailure(Object.assign(new Error("The specified bucket does not exist"), { name: "NoSuchBucket" }))).toBe(
      "NoSuchBucket: The specified bucket does not exist",
    );
    expect(describeFailure("a string")).toBe("a string");
    const cyclic = new Error("outer");
    cyclic.cause = cyclic;
    expect(describeFailure(cyclic)).toBe("outer");
  });
});

describe("OutageLog", () => {
  it("logs a failure when the state or the cause changes, counts repeats at debug, and logs the recovery once", () => {
    const { log, lines } = capturingLogger();
    let now = 1_000;
    const outage = new OutageLog(log, { what: "Binance REST", target: "data-api.binance.vision", now: () => now });
    outage.succeeded();
    expect(lines).toEqual([]);
    const notFound = new TypeError("fetch failed", { cause: Object.assign(new Error("getaddrinfo ENOTFOUND data-api.binance.vision"), { code: "ENOTFOUND" }) });
    outage.failed(notFound, { endpoint: "time" });
    now += 500;
    outage.failed(notFound, { endpoint: "time" });
    outage.failed(new Error("connect ECONNREFUSED 1.2.3.4:443"));
    expect(outage.down).toBe(true);
    now += 1_500;
    outage.succeeded();
    outage.succeeded();
    expect(outage.down).toBe(false);
    expect(lines.map((line) => [line.level, line.msg])).toEqual([
      [40, "Binance REST failing (data-api.binance.vision): fetch failed: getaddrinfo ENOTFOUND data-api.binance.vision"],
      [20, "Binance REST still failing"],
      [40, "Binance REST failing (data-api.binance.vision): connect ECONNREFUSED 1.2.3.4:443"],
      [30, "Binance REST recovered (data-api.binance.vision)"],
    ]);
    expect(lines[0]).toMatchObject({ target: "data-api.binance.vision", endpoint: "time", failures: 1 });
    expect(lines[1]).toMatchObject({ failures: 2 });
    expect(lines[3]).toMatchObject({ failures: 3, downForMs: 2_000, lastCause: "connect ECONNREFUSED 1.2.3.4:443" });
  });
});

describe("connectNats", () => {
  it("names the server and the cause when NATS cannot be reached", async () => {
    const port = await freePort();
    const { log } = capturingLogger();
    await expect(connectNats({ url: `nats://127.0.0.1:${port}`, name: "unreachable-test", log, timeoutMs: 2000 })).rejects.toThrow(
      `NATS is not reachable at nats://127.0.0.1:${port} (connection refused: connect ECONNREFUSED 127.0.0.1:${port})`,
    );
    await expect(connectNats({ url: "nats://nats.gapfill.invalid:4222", name: "unreachable-test", log, timeoutMs: 2000 })).rejects.toThrow(
      "NATS is not reachable at nats://nats.gapfill.invalid:4222 (getaddrinfo ENOTFOUND nats.gapfill.invalid)",
    );
  });
});
