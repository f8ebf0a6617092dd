import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pino } from "pino";
import type { Sql } from "postgres";
import { EMBEDDING_DIM } from "@gapfill/contracts";
import { createLogger } from "../src/log.ts";
import { openPostgresStore, openStore, storeKindOf } from "../src/store/index.ts";
import {
  connectTestPostgres,
  dropTestSchema,
  startTcpProxy,
  TEST_DATABASE_URL,
  TEST_SERIES_START,
  testBars,
  testDatabaseAddress,
  testEmbeddings,
  testDatabaseUrlVia,
  uniqueNamespace,
  waitFor,
} from "@gapfill/testkit";
import { bitwise, describeStoreContract } from "./store.contract.ts";

const log = createLogger({ service: "store-test", level: "silent" });
const schemas: string[] = [];
let admin: Sql;

beforeAll(() => {
  admin = connectTestPostgres();
});
afterAll(async () => {
  for (const schema of schemas) await dropTestSchema(admin, schema);
  await admin.end();
});

function freshSchema(): string {
  const schema = uniqueNamespace();
  schemas.push(schema);
  return schema;
}

describeStoreContract("postgres", async () => {
  const store = await openPostgresStore({ url: TEST_DATABASE_URL, prepare: true, schema: freshSchema(), log });
  return { store, teardown: () => store.close() };
});

describeStoreContract("postgres without prepared statements (transaction-mode pooler)", async () => {
  const store = await openPostgresStore({ url: TEST_DATABASE_URL, prepare: false, schema: freshSchema(), log });
  return { store, teardown: () => store.close() };
});

describe("postgres store", () => {
  it("stores ts as timestamptz and numeric columns as numeric", async () => {
    const schema = freshSchema();
    const store = await openPostgresStore({ url: TEST_DATABASE_URL, prepare: true, schema, log });
    try {
      const [bar] = testBars("BTCUSDT", TEST_SERIES_START, 1);
      await store.upsertBars([bar!]);
      const columns = await admin<{ column_name: string; data_type: string }[]>`
        select column_name, data_type from information_schema.columns
        where table_schema = ${schema} and table_name = 'price_15s' and column_name in ('ts', 'open', 'trades')
        order by column_name`;
      expect(columns.map((c) => [c.column_name, c.data_type])).toEqual([
        ["open", "numeric"],
        ["trades", "bigint"],
        ["ts", "timestamp with time zone"],
      ]);
      const [row] = await admin.unsafe(`select ts = '2024-01-01T00:00:00Z'::timestamptz as exact, open::text from ${schema}.price_15s`);
      expect(row).toEqual({ exact: true, open: String(bar!.open) });
    } finally {
      await store.close();
    }
  });

  it("applies the schema idempotently when several processes start at once", async () => {
    const schema = freshSchema();
    const stores = await Promise.all(
      Array.from({ length: 4 }, () => openPostgresStore({ url: TEST_DATABASE_URL, prepare: true, schema, log, maxConnections: 1 })),
    );
    try {
      await stores[0]!.upsertBars(testBars("BTCUSDT", TEST_SERIES_START, 3));
      const again = await openPostgresStore({ url: TEST_DATABASE_URL, prepare: true, schema, log });
      expect(await again.lastBarTs("BTCUSDT")).toBe(TEST_SERIES_START + 2 * 15_000);
      await again.close();
      const tables = await admin<{ table_name: string }[]>`
        select table_name from information_schema.tables where table_schema = ${schema} order by table_name`;
      expect(tables.map((t) => t.table_name)).toEqual(["ai_outputs", "ml_predictions", "price_15s"]);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  });

  it("stores embeddings as real[] and predictions as double precision, keyed by timestamptz", async () => {
    const schema = freshSchema();
    const store = await openPostgresStore({ url: TEST_DATABASE_URL, prepare: true, schema, log });
    try {
      const columns = await admin<{ table_name: string; column_name: string; udt_name: string; column_default: string | null }[]>`
        select table_name, column_name, udt_name, column_default from information_schema.columns
        where table_schema = ${schema} and table_name in ('ai_outputs', 'ml_predictions') order by table_name, ordinal_position`;
      expect(columns.map((c) => [c.table_name, c.column_name, c.udt_name])).toEqual([
        ["ai_outputs", "symbol", "text"],
        ["ai_outputs", "ts", "timestamptz"],
        ["ai_outputs", "embedding", "_float4"],
        ["ai_outputs", "feature_version", "text"],
        ["ai_outputs", "producer", "text"],
        ["ai_outputs", "created_at", "timestamptz"],
        ["ml_predictions", "symbol", "text"],
        ["ml_predictions", "ts", "timestamptz"],
        ["ml_predictions", "model_version", "text"],
        ["ml_predictions", "prob_up", "float8"],
        ["ml_predictions", "created_at", "timestamptz"],
      ]);
      const [embedding] = testEmbeddings("BTCUSDT", TEST_SERIES_START, 1);
      await store.upsertEmbeddings([embedding!]);
      const [row] = await admin.unsafe(
        `select ts = '2024-01-01T00:00:00Z'::timestamptz as exact, array_length(embedding, 1) as dim, embedding[1]::float8 as first from ${schema}.ai_outputs`,
      );
      expect(row).toEqual({ exact: true, dim: EMBEDDING_DIM, first: embedding!.embedding[0] });
      const indexes = await admin<{ indexdef: string }[]>`select indexdef from pg_indexes where schemaname = ${schema} and indexname = 'ai_outputs_ts_symbol'`;
      expect(indexes.map((i) => i.indexdef)).toEqual([expect.stringMatching(/\(ts, symbol\)$/)]);
    } finally {
      await store.close();
    }
  });

  it("upgrades ai_outputs tables of earlier versions in place, keeping their rows", async () => {
    const original = freshSchema();
    const previous = freshSchema();
    // The original system's table (symbol, ts, embedding) and the one this repository created before feature_version.
    await admin.unsafe(`
      create schema ${original};
      create table ${original}.ai_outputs (symbol text not null, ts timestamptz not null, embedding real[] not null, primary key (symbol, ts));
      insert into ${original}.ai_outputs values ('BTCUSDT', '2024-01-01T00:00:00Z', '{0.5,-1}');
      create schema ${previous};
      create table ${previous}.ai_outputs (symbol text not null, ts timestamptz not null, embedding real[] not null,
        producer text not null default 'builtin', created_at timestamptz not null default now(), primary key (symbol, ts));
      insert into ${previous}.ai_outputs (symbol, ts, embedding, producer) values ('BTCUSDT', '2024-01-01T00:00:00Z', '{0.5,-1}', 'mine');`);
    for (const [schema, producer] of [[original, "external"], [previous, "mine"]] as const) {
      const store = await openPostgresStore({ url: TEST_DATABASE_URL, prepare: true, schema, log });
      try {
        expect(bitwise(await store.newestEmbeddings("BTCUSDT", { limit: 10 }))).toEqual([
          { symbol: "BTCUSDT", ts: TEST_SERIES_START, embedding: "0000003f000080bf", feature_version: "unversioned", producer },
        ]);
        // An external producer that names neither column is recorded as such.
        await admin.unsafe(`insert into ${schema}.ai_outputs (symbol, ts, embedding) values ('ETHUSDT', '2024-01-01T00:00:00Z', '{1}')`);
        const [row] = await store.newestEmbeddings("ETHUSDT", { limit: 1 });
        expect([row!.feature_version, row!.producer]).toEqual(["unversioned", "external"]);
      } finally {
        await store.close();
      }
    }
  });

  it("fails to open with a clear error when the server is unreachable", async () => {
    await expect(
      openPostgresStore({ url: testDatabaseUrlVia(1), prepare: true, schema: freshSchema(), log }),
    ).rejects.toThrow(/ECONNREFUSED|connect/);
  });
});

describe("openStore", () => {
  const base = { DATABASE_PREPARE: true, DATA_DIR: ".data", NATS_NAMESPACE: "" };

  it("picks DATABASE_URL for data when both it and SUPABASE_URL are set, then Supabase, then embedded", () => {
    expect(storeKindOf({ ...base, DATABASE_URL: TEST_DATABASE_URL, SUPABASE_URL: "https://x.supabase.co" })).toBe("postgres");
    expect(storeKindOf({ ...base, SUPABASE_URL: "https://x.supabase.co" })).toBe("supabase");
    expect(storeKindOf(base)).toBe("embedded");
  });

  it("opens the Postgres adapter on the configured schema and logs where, never the password", async () => {
    const schema = freshSchema();
    const lines: string[] = [];
    const spy = pino({ level: "info" }, { write: (line: string) => void lines.push(line) });
    const url = TEST_DATABASE_URL.replace("postgres@", "postgres:hunter2@");
    const store = await openStore(
      { ...base, DATABASE_URL: url, DATABASE_SCHEMA: schema, SUPABASE_URL: "https://x.supabase.co" },
      { log: spy, access: "write" },
    );
    try {
      expect(store.kind).toBe("postgres");
      await store.upsertBars(testBars("BTCUSDT", TEST_SERIES_START, 2));
      const [{ n }] = (await admin.unsafe(`select count(*)::int as n from ${schema}.price_15s`)) as unknown as [{ n: number }];
      expect(n).toBe(2);
      expect(lines.join("\n")).toContain('"store":"postgres"');
      expect(lines.join("\n")).toContain('"supabaseAuthOnly":true');
      expect(lines.join("\n")).not.toContain("hunter2");
    } finally {
      await store.close();
    }
  });
});

describe("postgres store under connection faults", () => {
  async function behindProxy(queryTimeoutMs = 30_000) {
    const proxy = await startTcpProxy(testDatabaseAddress());
    const store = await openPostgresStore({
      url: testDatabaseUrlVia(proxy.port),
      prepare: true,
      schema: freshSchema(),
      log,
      queryTimeoutMs,
    });
    return { proxy, store, close: async () => (await store.close(), await proxy.close()) };
  }

  it("fails fast on every call while the server is cut off, and works again once it is back", async () => {
    const { proxy, store, close } = await behindProxy();
    try {
      await store.upsertBars(testBars("BTCUSDT", TEST_SERIES_START, 5));
      proxy.sever();
      // Sequential and overlapping calls, as the recorder's writes and lag checks make them.
      for (let round = 0; round < 15; round++) {
        const outcomes = await Promise.allSettled([
          store.upsertBars(testBars("BTCUSDT", TEST_SERIES_START, 300)),
          store.lastBarTs("BTCUSDT"),
          store.pageNewestFirst("BTCUSDT", { limit: 10 }),
        ]);
        expect(outcomes.map((o) => o.status)).toEqual(["rejected", "rejected", "rejected"]);
      }
      proxy.restore();
      await store.upsertBars(testBars("BTCUSDT", TEST_SERIES_START, 300));
      expect(await store.lastBarTs("BTCUSDT")).toBe(TEST_SERIES_START + 299 * 15_000);
    } finally {
      await close();
    }
  });

  it("gives up on a call the server never answers, after queryTimeoutMs, and recovers", async () => {
    const { proxy, store, close } = await behindProxy(500);
    try {
      await store.ping();
      proxy.stall();
      const started = Date.now();
      await expect(store.upsertBars(testBars("BTCUSDT", TEST_SERIES_START, 5))).rejects.toThrow(/upsert did not finish within 500 ms/);
      expect(Date.now() - started).toBeLessThan(5000);
      proxy.restore();
      await store.upsertBars(testBars("BTCUSDT", TEST_SERIES_START, 5));
      expect(await store.lastBarTs("BTCUSDT")).toBe(TEST_SERIES_START + 4 * 15_000);
    } finally {
      await close();
    }
  });

  it("survives the server terminating its connections (pg_terminate_backend)", async () => {
    const schema = freshSchema();
    const store = await openPostgresStore({ url: TEST_DATABASE_URL, prepare: true, schema, log, applicationName: `kill-${schema}` });
    try {
      await store.upsertBars(testBars("BTCUSDT", TEST_SERIES_START, 5));
      const killed = await admin`select pg_terminate_backend(pid) from pg_stat_activity where application_name = ${`kill-${schema}`}`;
      expect(killed.length).toBeGreaterThan(0);
      // The first call may meet the dead connection; the store must heal within a few calls.
      await waitFor(async () => (await store.upsertBars(testBars("BTCUSDT", TEST_SERIES_START, 10)), true), { what: "an upsert after the kill" });
      expect(await store.lastBarTs("BTCUSDT")).toBe(TEST_SERIES_START + 9 * 15_000);
    } finally {
      await store.close();
    }
  });
});
