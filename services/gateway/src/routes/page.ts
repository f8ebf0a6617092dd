import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance } from "fastify";

const PUBLIC_DIR = fileURLToPath(new URL("../../public/", import.meta.url));
/** The chart library's self-contained ES module, served from node_modules: no CDN, no build step. */
const CHART_LIBRARY_DIR = join(dirname(createRequire(import.meta.url).resolve("lightweight-charts/package.json")), "dist");
const CHART_LIBRARY_FILE = "lightweight-charts.standalone.production.mjs";

/** The chart page at `/` (services/gateway/public) and the one vendor file it imports. */
export async function pageRoutes(app: FastifyInstance): Promise<void> {
  await app.register(fastifyStatic, { root: PUBLIC_DIR, prefix: "/", index: "index.html", wildcard: false });
  await app.register(fastifyStatic, {
    root: CHART_LIBRARY_DIR,
    prefix: "/vendor/",
    decorateReply: false,
    wildcard: false,
    allowedPath: (pathName) => pathName === `/${CHART_LIBRARY_FILE}`,
    maxAge: "1d",
  });
}
