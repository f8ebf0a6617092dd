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

/**
 * A plain HTTP forwarder in front of the simulator's REST API that records when each request arrived and what was
 * answered, so a test can check the client's timing (waits after 429, pacing) from the outside.
 */
export async function startRecordingProxy(targetUrl: string): Promise<{ url: string; log: ProxiedExchange[]; close: () => Promise<void> }> {
  const target = new URL(targetUrl);
  const log: ProxiedExchange[] = [];
  const server: Server = createServer((req, res) => {
    const requestAt = Date.now();
    const upstream = httpRequest(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        answer.on("end", () => {
          const weight = answer.headers["x-mbx-used-weight-1m"];
          const retryAfter = answer.headers["retry-after"];
          log.push({
            path: req.url ?? "",
            requestAt,
            responseAt: Date.now(),
            status: answer.statusCode ?? 0,
            usedWeight: typeof weight === "string" ? Number(weight) : null,
            retryAfterSeconds: typeof retryAfter === "string" ? Number(retryAfter) : null,
          });
        });
      },
    );
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
