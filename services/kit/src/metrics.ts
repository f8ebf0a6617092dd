import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { collectDefaultMetrics, Registry } from "prom-client";

export { Counter, Gauge, Histogram, Registry } from "prom-client";

/** A registry per service (never the global one), so tests can run several services in one process. */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** Why the service is not ready (shown by /readyz), or null when it is. */
export type ReadinessProbe = () => string | null;

const json = (res: ServerResponse, status: number, body: unknown) =>
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));

/**
 * Serves `GET /metrics` (Prometheus), `GET /healthz` (the process answers) and `GET /readyz` (200 once the service
 * does its job, else 503 with the reason) on a port of its own. Port 0 picks a free port.
 */
export async function serveMetrics(
  registry: Registry,
  port: number,
  host = "127.0.0.1",
  notReadyBecause: ReadinessProbe = () => null,
): Promise<{ server: Server; port: number; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const path = req.url?.split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      json(res, 405, { error: { code: "method_not_allowed", message: "only GET" } });
    } else if (path === "/metrics") {
      registry.metrics().then(
        (body) => res.writeHead(200, { "content-type": registry.contentType }).end(body),
        (error: Error) => json(res, 503, { error: { code: "metrics_unavailable", message: error.message } }),
      );
    } else if (path === "/healthz") {
      json(res, 200, { status: "ok" });
    } else if (path === "/readyz") {
      const reason = notReadyBecause();
      json(res, reason === null ? 200 : 503, reason === null ? { status: "ready" } : { status: "not_ready", reason });
    } else {
      json(res, 404, { error: { code: "not_found", message: "try GET /metrics, /healthz or /readyz" } });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
