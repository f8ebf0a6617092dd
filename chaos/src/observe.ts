/**
 * What the checks read, each straight from its source and through none of the code under test: every message of the
 * bars stream in stream order (duplicates kept), the rows of `price_15s`, and the simulator's ground truth and clock.
 */
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import postgres from "postgres";
import { closedBarSchema, PRICE_TABLE, type ClosedBar, type NatsNames } from "@gapfill/contracts";

function jsonOrNull(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** Every bar message of `symbol` in the stream, in stream order; `undecodable` counts messages that are not bars. */
export async function readStreamSeries(nc: NatsConnection, names: NatsNames, symbol: string): Promise<{ bars: ClosedBar[]; undecodable: number }> {
  const js = jetstream(nc);
  const subject = names.subjects.bars(symbol);
  const info = await (await jetstreamManager(nc)).streams.info(names.streams.bars, { subjects_filter: subject });
  const bars: ClosedBar[] = [];
  let undecodable = 0;
  if ((info.state.subjects?.[subject] ?? 0) === 0) return { bars, undecodable };
  const consumer = await js.consumers.get(names.streams.bars, { deliver_policy: DeliverPolicy.All, filter_subjects: subject });
  const messages = await consumer.consume();
  for await (const msg of messages) {
    const parsed = closedBarSchema.safeParse(jsonOrNull(msg.string()));
    if (parsed.success) bars.push(parsed.data);
    else undecodable += 1;
    if (msg.info.pending === 0) break;
  }
  await messages.close();
  return { bars, undecodable };
}

/** Open time of the newest bar of `symbol` in the stream, or null. */
export async function lastStreamTs(nc: NatsConnection, names: NatsNames, symbol: string): Promise<number | null> {
  const jsm = await jetstreamManager(nc);
  const message = await jsm.direct.getMessage(names.streams.bars, { last_by_subj: names.subjects.bars(symbol) });
  return message ? (message.json() as ClosedBar).ts : null;
}

/** Every row of `<schema>.price_15s` for `symbol`, as bars, oldest first. */
export async function readTableBars(url: string, schema: string, symbol: string): Promise<ClosedBar[]> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    // float8 holds every value here exactly (8-decimal prices, ids below 2^53): the same doubles as the JSON bars.
    const rows = await sql<ClosedBar[]>`
      select symbol, (extract(epoch from ts) * 1000)::float8 as ts, open::float8 as open, high::float8 as high,
             low::float8 as low, close::float8 as close, volume::float8 as volume, quote_volume::float8 as quote_volume,
             trades::float8 as trades, taker_buy_volume::float8 as taker_buy_volume,
             first_agg_id::float8 as first_agg_id, last_agg_id::float8 as last_agg_id
      from ${sql(schema)}.${sql(PRICE_TABLE)} where symbol = ${symbol} order by ts`;
    return rows.map((row) => ({ ...row }));
  } finally {
    await sql.end({ timeout: 2 });
  }
}

/** Rows of `<schema>.price_15s` for `symbol` with ts ≤ toTs (0 while the table does not exist yet). */
export async function countTableBars(url: string, schema: string, symbol: string, toTs: number): Promise<number> {
  const sql = postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    const [row] = await sql<{ n: number }[]>`
      select count(*)::int as n from ${sql(schema)}.${sql(PRICE_TABLE)}
      where symbol = ${symbol} and ts <= 'epoch'::timestamptz + interval '1 millisecond' * ${toTs}`;
    return row!.n;
  } catch (error) {
    if ((error as { code?: string }).code === "42P01") return 0;
    throw error;
  } finally {
    await sql.end({ timeout: 2 });
  }
}

/** The simulator's exact bars with open time in [fromTs, toTs). */
export async function fetchTruth(simUrl: string, symbol: string, fromTs: number, toTs: number): Promise<ClosedBar[]> {
  const response = await fetch(`${simUrl}/_sim/bars?symbol=${symbol}&from=${fromTs}&to=${toTs}`);
  if (!response.ok) throw new Error(`${simUrl}/_sim/bars answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as ClosedBar[];
}

/** The simulator's clock (market time), epoch ms. */
export async function simNow(simUrl: string): Promise<number> {
  const response = await fetch(`${simUrl}/_sim/clock`);
  if (!response.ok) throw new Error(`${simUrl}/_sim/clock answered ${response.status}`);
  return ((await response.json()) as { now: number }).now;
}
