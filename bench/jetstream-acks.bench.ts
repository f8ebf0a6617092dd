/**
 * What acknowledgements cost a JetStream drain (the recorder's intake without its decode and writes): 40,000 bars
 * waiting in the stream, drained through a fresh durable pull consumer the way the recorder takes them (1,000 at a
 * time), acked one by one after each 1,000 (the recorder's rule), with one AckAll per 1,000 (what the recorder must
 * not do when recorders share the consumer), or not at all (AckNone: the floor). Three rounds each; medians, the
 * ratio to the floor, and CPU per message of this process and of the local nats-server (when /proc shows one).
 */
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type JsMsg } from "@nats-io/jetstream";
import { natsNames } from "@gapfill/contracts";
import {
  connectTestNats,
  deleteNamespaceStreams,
  provisionTestTopology,
  publishBars,
  quantile,
  TEST_SERIES_START,
  testBars,
  uniqueNamespace,
} from "@gapfill/testkit";
import { natsServerCpuSeconds } from "./nats-server-cpu.ts";

const PER_SYMBOL = 20_000;
const TOTAL = 2 * PER_SYMBOL;
const BATCH = 1000;
const ROUNDS = 3;
type Mode = { label: string; policy: AckPolicy; ack: (batch: JsMsg[]) => void };
const modes: Mode[] = [
  { label: "ack each, per 1,000", policy: AckPolicy.Explicit, ack: (batch) => batch.forEach((msg) => msg.ack()) },
  { label: "AckAll per 1,000", policy: AckPolicy.All, ack: (batch) => batch.at(-1)?.ack() },
  { label: "AckNone (floor)", policy: AckPolicy.None, ack: () => {} },
];

const nc = await connectTestNats();
const ns = uniqueNamespace("tbench");
const stream = natsNames(ns).streams.bars;

/** Messages per second of one drain of the whole backlog, and CPU µs a message (this process, nats-server). */
async function drain(mode: Mode, round: number): Promise<{ rate: number; cpuUs: number; natsCpuUs: number | null }> {
  const jsm = await jetstreamManager(nc);
  const durable = `acks${modes.indexOf(mode)}r${round}`;
  await jsm.consumers.add(stream, { durable_name: durable, ack_policy: mode.policy, deliver_policy: DeliverPolicy.All, max_ack_pending: 2 * BATCH });
  const consumer = await jetstream(nc).consumers.get(stream, durable);
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  const natsStart = natsServerCpuSeconds();
  const messages = await consumer.consume({ max_messages: BATCH });
  const batch: JsMsg[] = [];
  let received = 0;
  for await (const msg of messages) {
    batch.push(msg);
    if (++received % BATCH === 0 || received === TOTAL) mode.ack(batch.splice(0));
    if (received === TOTAL) break;
  }
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  const natsEnd = natsServerCpuSeconds();
  await jsm.consumers.delete(stream, durable);
  return {
    rate: TOTAL / seconds,
    cpuUs: (cpu.user + cpu.system) / TOTAL,
    natsCpuUs: natsStart === null || natsEnd === null ? null : ((natsEnd - natsStart) * 1e6) / TOTAL,
  };
}

const lines: string[] = [];
try {
  await provisionTestTopology(nc, ns, { barsMaxAgeHours: 24 });
  await publishBars(nc, ns, [...testBars("BTCUSDT", TEST_SERIES_START, PER_SYMBOL, 1), ...testBars("ETHUSDT", TEST_SERIES_START, PER_SYMBOL, 2)], 512);
  const median = (values: number[]) => quantile([...values].sort((a, b) => a - b), 0.5);
  const results = [];
  for (const mode of modes) {
    const runs = [];
    for (let round = 0; round < ROUNDS; round++) runs.push(await drain(mode, round));
    const natsCpu = runs.every((run) => run.natsCpuUs !== null) ? median(runs.map((run) => run.natsCpuUs!)).toFixed(1) : "n/a";
    results.push({ label: mode.label, rate: median(runs.map((run) => run.rate)), cpuUs: median(runs.map((run) => run.cpuUs)), natsCpu });
  }
  const floor = results.at(-1)!.rate;
  lines.push(`drain of ${TOTAL.toLocaleString("en")} messages, ${BATCH} at a time, ${ROUNDS} rounds (median)`);
  lines.push(`${"acks".padEnd(22)}${"messages/s".padStart(12)}${"/ floor".padStart(9)}${"CPU µs/msg".padStart(12)}${"NATS CPU µs/msg".padStart(17)}`);
  for (const r of results) {
    lines.push(`${r.label.padEnd(22)}${r.rate.toFixed(0).padStart(12)}${(r.rate / floor).toFixed(2).padStart(9)}${r.cpuUs.toFixed(1).padStart(12)}${r.natsCpu.padStart(17)}`);
  }
} finally {
  await deleteNamespaceStreams(nc, ns);
  await nc.close();
}
console.log(lines.join("\n"));
