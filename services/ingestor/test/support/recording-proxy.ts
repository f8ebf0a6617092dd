import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface ProxiedExchange {
  path: string;
  /** Wall-clock ms when the request arrived and when its answer was complete. */
  requestAt: number;
  responseAt: number;
  status: number;
  usedWeight: number | null;
  retryAfterSeconds: number | null;
}

export interface ProxyFaults {
  /** Replaces the body of a 200 answer (the simulator's JSON text) before it is sent on. */
  rewrite?: (path: string, body: string) => string;
  /** `cut`: send the headers and half the body, then reset the connection; `stall`: the headers, then nothing. */
  breakBody?: (path: string) => "cut" | "stall" | null;
}

/**
 * A plain HTTP forwarder in front of the simulator's REST API that records when each request arrived and what was
 * answered, so a test can check the client's timing (waits after 429, pacing) from the outside. It can also change
 * what the simulator answered (`rewrite`) or break an answer's body (`breakBody`), to stand in for what Binance or
 * the network may do that the simulator does not.
 */
export interface RecordingProxy {
  url: string;
  log: ProxiedExchange[];
  close(): Promise<void>;
}

export async function startRecordingProxy(targetUrl: string, faults: ProxyFaults = {}): Promise<RecordingProxy> {
  const target = new URL(targetUrl);
  const log: ProxiedExchange[] = [];
  const server: Server = createServer((req, res) => {
    const requestAt = Date.now();
    const path = req.url ?? "";
    const upstream = httpRequest({ host: target.hostname, port: target.port, path, method: req.method, headers: req.headers }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on("data", (chunk: Buffer) => chunks.push(chunk));
      answer.on("end", () => {
        const weight = answer.headers["x-mbx-used-weight-1m"];
        const retryAfter = answer.headers["retry-after"];
        const status = answer.statusCode ?? 502;
        log.push({
          path,
          requestAt,
          responseAt: Date.now(),
          status,
          usedWeight: typeof weight === "string" ? Number(weight) : null,
          retryAfterSeconds: typeof retryAfter === "string" ? Number(retryAfter) : null,
        });
        let body = Buffer.concat(chunks);
        if (status === 200 && faults.rewrite) body = Buffer.from(faults.rewrite(path, body.toString("utf8")));
        const headers = { ...answer.headers, "content-length": String(body.length) };
        delete headers["transfer-encoding"];
        res.writeHead(status, headers);
        const broken = faults.breakBody?.(path) ?? null;
        if (broken === "stall") return res.flushHeaders();
        if (broken === "cut") {
          res.write(body.subarray(0, body.length >> 1), () => res.destroy());
          return;
        }
        res.end(body);
      });
    });
    upstream.on("error", () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    log,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
