import { afterAll, describe, expect, it } from "vitest";
import { jetstreamManager } from "@nats-io/jetstream";
import { natsNames } from "@gapfill/contracts";
import { connectNats, createLogger, createMetricsRegistry, openPostgresStore } from "@gapfill/kit";
import {
  connectTestPostgres,
  dropTestSchema,
  provisionTestTopology,
  publishBars,
  readStreamBars,
  startPrivateNatsServer,
  TEST_DATABASE_URL,
  TEST_SERIES_START,
  testBars,
  uniqueNamespace,
  waitFor,
} from "@gapfill/testkit";
import { RECORDER_DURABLE, startRecorder } from "../src/index.ts";
import { rowCount, tableBars } from "./support.ts";

const log = createLogger({ service: "recorder-test", level: "silent" });
const admin = connectTestPostgres();
const ns = uniqueNamespace();

afterAll(async () => {
  await dropTestSchema(admin, ns);
  await admin.end();
});

describe("recorder across a NATS server crash", () => {
  it("reconnects, resumes its durable consumer and ends with the table equal to the stream", async () => {
    const server = await startPrivateNatsServer();
    const nc = await connectNats({ url: server.url, name: "recorder", log });
    const publisher = await connectNats({ url: server.url, name: "publisher", log });
    const store = await openPostgresStore({ url: TEST_DATABASE_URL, prepare: true, schema: ns, log });
    try {
      await provisionTestTopology(nc, ns, { barsMaxAgeHours: 24 });
      const recorder = await startRecorder({
        config: { NATS_NAMESPACE: ns, BINANCE_SYMBOL: ["BTCUSDT"], RECORDER_BATCH_SIZE: 300, RECORDER_BATCH_MS: 50, RECORDER_ACK_WAIT_MS: 2000 },
        nc,
        store,
        log,
        registry: createMetricsRegistry("recorder"),
      });
      const bars = testBars("BTCUSDT", TEST_SERIES_START, 9000);
      await publishBars(publisher, ns, bars.slice(0, 3000));
      await waitFor(async () => (await rowCount(admin, ns)) >= 1000, { what: "1,000 rows" });

      const jsm = await jetstreamManager(publisher);
      // The server dies mid-run and comes back on the same store directory.
      await server.stop("SIGKILL");
      await server.restart();
      await waitFor(() => jsm.streams.info(natsNames(ns).streams.bars).then(() => true), { what: "JetStream back", timeoutMs: 20_000 });
      await publishBars(publisher, ns, bars.slice(3000));
      await waitFor(async () => (await rowCount(admin, ns)) === 9000, { what: "9,000 rows", timeoutMs: 60_000 });

      const truth = await readStreamBars(publisher, ns);
      expect(truth.size).toBe(9000);
      expect(await tableBars(store, ["BTCUSDT"])).toEqual(truth);
      await waitFor(async () => (await jsm.consumers.info(natsNames(ns).streams.bars, RECORDER_DURABLE)).num_ack_pending === 0, { what: "every bar acked", timeoutMs: 20_000 });
      await recorder.stop();
    } finally {
      await store.close();
      await nc.close();
      await publisher.close();
      await server.dispose();
    }
  });
});
