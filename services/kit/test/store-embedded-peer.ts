/**
 * A separate OS process on the embedded store, driven by store-embedded.test.ts over stdio.
 *   writer <dir> <batches> <batchSize>: upserts one batch, prints `wrote <rows>`, waits for a `next` line, repeats.
 *   reader <dir> <total>: reads the whole series over and over; prints `saw <rows>` at each change, checking every
 *   read is an exact prefix of the writer's series made of whole batches; exits when it has seen `total` rows.
 */
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { createLogger } from "../src/log.ts";
import { MAX_PAGE_LIMIT, openEmbeddedStore } from "../src/store/index.ts";
import { TEST_SERIES_START, testBars } from "@gapfill/testkit";

export const PEER_SYMBOL = "PEERUSDT";
export const PEER_BATCH = 500;

const [role, dir, countArg] = process.argv.slice(2);
const store = openEmbeddedStore({ dataDir: dir!, log: createLogger({ service: "peer", level: "silent" }) });
const say = (line: string) => process.stdout.write(`${line}\n`);

if (role === "writer") {
  const batches = Number(countArg);
  const series = testBars(PEER_SYMBOL, TEST_SERIES_START, batches * PEER_BATCH);
  const input = createInterface({ input: process.stdin });
  const lines = input[Symbol.asyncIterator]();
  for (let i = 0; i < batches; i++) {
    await store.upsertBars(series.slice(i * PEER_BATCH, (i + 1) * PEER_BATCH));
    say(`wrote ${(i + 1) * PEER_BATCH}`);
    if (i + 1 < batches) await lines.next();
  }
  // The parent keeps our stdin open: let go of it so the process can end.
  input.close();
  process.stdin.destroy();
} else if (role === "reader") {
  const total = Number(countArg);
  const series = testBars(PEER_SYMBOL, TEST_SERIES_START, total);
  let seen = -1;
  say("ready");
  while (seen < total) {
    const rows = (await store.pageNewestFirst(PEER_SYMBOL, { limit: MAX_PAGE_LIMIT })).reverse();
    if (rows.length % PEER_BATCH !== 0) throw new Error(`read a partial batch: ${rows.length} rows`);
    const expected = JSON.stringify(series.slice(0, rows.length));
    if (JSON.stringify(rows) !== expected) throw new Error(`read ${rows.length} rows that differ from the written series`);
    if (rows.length !== seen) say(`saw ${(seen = rows.length)}`);
    await sleep(2);
  }
} else {
  throw new Error(`unknown role ${role}`);
}
await store.close();
