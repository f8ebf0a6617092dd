/**
 * Bootstrap page latency: `GET /bootstrap?limit=5000` over HTTP from one gateway process (its real entry point,
 * Postgres store), p50/p99 of sequential keep-alive requests, plain and gzip/br, against the floor of the same
 * 5,000-bar page read straight from the store (`pageNewestFirst`) in this process.
 *
 * `npm run bench -- gateway-bootstrap`
 */
import { createLogger, openPostgresStore } from "@gapfill/kit";
import {
  connectTestNats,
  connectTestPostgres,
  deleteNamespaceStreams,
  dropTestSchema,
  provisionTestTopology,
  quantile,
  TEST_DATABASE_URL,
  TEST_NATS_URL,
  TEST_SERIES_START,
  testBars,
  uniqueNamespace,
} from "@gapfill/testkit";
import { signLocalToken } from "../services/gateway/src/index.ts";
import { now, startGatewayProcess, stopProcess } from "./gateway-support.ts";

const SYMBOL = "BTCUSDT";
const BARS = 50_000;
const PAGE = 5000;
const WARMUP = 10;
const REQUESTS = 60;
const SECRET = "bench-local-secret-0123456789abcdef0123456789";

async function timed(count: number, run: () => Promise<void>): Promise<number[]> {
  for (let i = 0; i < WARMUP; i++) await run();
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = now();
    await run();
    samples.push(now() - started);
  }
  return samples;
}

const ns = uniqueNamespace();
const log = createLogger({ service: "bench", level: "warn" });
const nc = await connectTestNats();
const sql = connectTestPostgres();
await provisionTestTopology(nc, ns);
const store = await openPostgresStore({ url: TEST_DATABASE_URL, prepare: true, schema: ns, log });
let gateway: Awaited<ReturnType<typeof startGatewayProcess>> | null = null;
try {
  const bars = testBars(SYMBOL, TEST_SERIES_START, BARS, 5);
  for (let i = 0; i < bars.length; i += 5000) await store.upsertBars(bars.slice(i, i + 5000));
  gateway = await startGatewayProcess({
    NATS_URL: TEST_NATS_URL,
    NATS_NAMESPACE: ns,
    DATABASE_URL: TEST_DATABASE_URL,
    DATABASE_SCHEMA: ns,
    LOCAL_JWT_SECRET: SECRET,
    BOOTSTRAP_PER_MINUTE: "1000000",
    LOG_LEVEL: "error",
  });
  const { token } = await signLocalToken(new TextEncoder().encode(SECRET), { sub: "bench", ttlSeconds: 3600, nowMs: Date.now() });
  const url = `${gateway.url}/bootstrap?limit=${PAGE}`;

  const floor = await timed(REQUESTS, async () => {
    const page = await store.pageNewestFirst(SYMBOL, { limit: PAGE + 1 });
    if (page.length !== PAGE + 1) throw new Error(`the store returned ${page.length} bars`);
  });
  const floorP50 = quantile(floor, 0.5);
  console.log(`floor: store.pageNewestFirst(${PAGE + 1}) p50 ${floorP50.toFixed(1)} ms, p99 ${quantile(floor, 0.99).toFixed(1)} ms`);
  for (const encoding of ["identity", "gzip", "br"]) {
    let bytes = 0;
    const samples = await timed(REQUESTS, async () => {
      const response = await fetch(url, { headers: { authorization: `Bearer ${token}`, "accept-encoding": encoding } });
      const body = (await response.json()) as { bars: unknown[] };
      if (response.status !== 200 || body.bars.length !== PAGE) throw new Error(`bootstrap answered ${response.status}`);
      bytes = Number(response.headers.get("content-length") ?? 0);
    });
    const p50 = quantile(samples, 0.5);
    console.log(
      `GET /bootstrap limit=${PAGE} (${encoding}${bytes ? `, ${(bytes / 1024).toFixed(0)} KiB` : ""}): ` +
        `p50 ${p50.toFixed(1)} ms, p99 ${quantile(samples, 0.99).toFixed(1)} ms; ratio to floor p50 ${(p50 / floorP50).toFixed(2)}`,
    );
  }
} finally {
  if (gateway) await stopProcess(gateway.child);
  await store.close();
  await deleteNamespaceStreams(nc, ns);
  await dropTestSchema(sql, ns);
  await sql.end();
  await nc.close();
}
