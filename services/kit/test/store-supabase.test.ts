import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BAR_MS, SQL_MIGRATIONS, SUPABASE_SETUP_SQL } from "@gapfill/contracts";
import type { Sql } from "postgres";
import { createLogger } from "../src/log.ts";
import { supabaseKeyRole } from "@gapfill/contracts";
import { openPostgresStore, openStore, openSupabaseStore, StoreConfigError } from "../src/store/index.ts";
import {
  connectTestPostgres,
  dropTestSchema,
  startPostgrestDouble,
  TEST_DATABASE_URL,
  TEST_SERIES_START,
  TEST_SUPABASE_ANON_KEY,
  TEST_SUPABASE_SERVICE_KEY,
  testBars,
  testEmbeddings,
  uniqueNamespace,
  type PostgrestDouble,
} from "@gapfill/testkit";
import { bitwise, byTsThenSymbol, collectAll, describeStoreContract } from "./store.contract.ts";

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

/** A fresh schema with price_15s, served by a PostgREST double capped at `maxRows` like Supabase. */
async function freshDataApi(maxRows = 1000): Promise<PostgrestDouble> {
  const schema = uniqueNamespace();
  schemas.push(schema);
  await (await openPostgresStore({ url: TEST_DATABASE_URL, prepare: true, schema, log })).close();
  return startPostgrestDouble({ schema, maxRows });
}

describeStoreContract("supabase", async () => {
  const api = await freshDataApi();
  const store = await openSupabaseStore({ url: api.url, key: TEST_SUPABASE_SERVICE_KEY, log });
  return {
    store,
    teardown: async () => {
      await store.close();
      await api.close();
    },
  };
});

describe("supabase store", () => {
  it("assembles a 5,000-bar page from as many capped requests as needed, each asking only for what is missing", async () => {
    const api = await freshDataApi(1000);
    const store = await openSupabaseStore({ url: api.url, key: TEST_SUPABASE_SERVICE_KEY, log });
    try {
      const bars = testBars("BTCUSDT", TEST_SERIES_START, 7_500);
      await store.upsertBars(bars);
      api.requests.length = 0;
      const first = await store.pageNewestFirst("BTCUSDT", { limit: 5000 });
      expect(first).toEqual(bars.slice(2500).reverse());
      const reads = api.requests.filter((r) => r.method === "GET");
      expect(reads.map((r) => r.rows)).toEqual([1000, 1000, 1000, 1000, 1000]);
      expect(reads.map((r) => new URL(r.url, api.url).searchParams.get("limit"))).toEqual(["5000", "4000", "3000", "2000", "1000"]);
      // Every follow-up request continues strictly below the previous response's oldest bar.
      expect(new URL(reads[1]!.url, api.url).searchParams.get("ts")).toBe(`lt.${new Date(bars[6500]!.ts).toISOString()}`);

      // The last page ends the data after 2,500 rows: a response shorter than the learnt cap ends the loop.
      api.requests.length = 0;
      const last = await store.pageNewestFirst("BTCUSDT", { before: first.at(-1)!.ts, limit: 5000 });
      expect(last).toEqual(bars.slice(0, 2500).reverse());
      expect(api.requests.map((r) => r.rows)).toEqual([1000, 1000, 500]);
    } finally {
      await store.close();
      await api.close();
    }
  });

  it("is never short when the server's cap is unknown and the data ends exactly at a cap boundary", async () => {
    const api = await freshDataApi(700);
    const store = await openSupabaseStore({ url: api.url, key: TEST_SUPABASE_SERVICE_KEY, log });
    try {
      const bars = testBars("ETHUSDT", TEST_SERIES_START, 2_100);
      await store.upsertBars(bars);
      expect(await store.pageNewestFirst("ETHUSDT", { limit: 5000 })).toEqual([...bars].reverse());
      expect(await store.pageNewestFirst("ETHUSDT", { limit: 1400 })).toEqual(bars.slice(700).reverse());
    } finally {
      await store.close();
      await api.close();
    }
  });

  it("upserts with merge-duplicates on (symbol, ts), one request per 1,000 bars", async () => {
    const api = await freshDataApi();
    const store = await openSupabaseStore({ url: api.url, key: TEST_SUPABASE_SERVICE_KEY, log });
    try {
      api.requests.length = 0;
      await store.upsertBars(testBars("BTCUSDT", TEST_SERIES_START, 1_000));
      expect(api.requests).toHaveLength(1);
      expect(api.requests[0]).toMatchObject({ method: "POST", status: 201, rows: 1000, prefer: "resolution=merge-duplicates" });
      expect(new URL(api.requests[0]!.url, api.url).searchParams.get("on_conflict")).toBe("symbol,ts");
      api.requests.length = 0;
      await store.upsertBars(testBars("BTCUSDT", TEST_SERIES_START, 2_500, 2));
      expect(api.requests.map((r) => [r.method, r.status, r.rows])).toEqual([["POST", 201, 1000], ["POST", 201, 1000], ["POST", 201, 500]]);
      expect(await store.pageNewestFirst("BTCUSDT", { limit: 5000 })).toEqual(testBars("BTCUSDT", TEST_SERIES_START, 2_500, 2).reverse());
    } finally {
      await store.close();
      await api.close();
    }
  });

  it("reads embeddings as text from capped requests: newest first across them, and exports of at most 1,000 rows a request", async () => {
    const api = await freshDataApi(1000);
    const store = await openSupabaseStore({ url: api.url, key: TEST_SUPABASE_SERVICE_KEY, log });
    try {
      const symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT"];
      const rows = symbols.flatMap((symbol, i) => testEmbeddings(symbol, TEST_SERIES_START, 1_000, { seed: i + 1 }));
      await store.upsertEmbeddings(rows);
      api.requests.length = 0;
      const newest = await store.newestEmbeddings("ETHUSDT", { limit: 2_000 });
      expect(bitwise(newest)).toEqual(bitwise(rows.slice(1_000, 2_000).reverse()));
      expect(api.requests.map((r) => r.rows)).toEqual([1000, 0]);
      expect(new URL(api.requests[0]!.url, api.url).searchParams.get("select")).toBe("symbol,ts,embedding::text,feature_version,producer");

      api.requests.length = 0;
      const exported = await collectAll(store.exportEmbeddings({ fromTs: TEST_SERIES_START - BAR_MS, toTs: TEST_SERIES_START + 999 * BAR_MS }));
      expect(bitwise(exported)).toEqual(bitwise(byTsThenSymbol(rows)));
      // Three symbols a ts: each full page ends inside a ts, whose other rows one more request fetches.
      expect(api.requests.map((r) => r.rows)).toEqual([1000, 2, 1000, 2, 996]);
      const second = new URL(api.requests[1]!.url, api.url).searchParams;
      expect([second.getAll("ts"), second.get("symbol")]).toEqual([[`eq.${new Date(TEST_SERIES_START + 333 * BAR_MS).toISOString()}`], "gt.BTCUSDT"]);
    } finally {
      await store.close();
      await api.close();
    }
  });

  it("exports whole through a server capping responses below the page size it is asked for", async () => {
    const api = await freshDataApi(300);
    const store = await openSupabaseStore({ url: api.url, key: TEST_SUPABASE_SERVICE_KEY, log });
    try {
      const rows = ["BTCUSDT", "ETHUSDT"].flatMap((symbol, i) => testEmbeddings(symbol, TEST_SERIES_START, 450, { seed: i + 1 }));
      await store.upsertEmbeddings(rows);
      const range = { fromTs: TEST_SERIES_START - BAR_MS, toTs: TEST_SERIES_START + 449 * BAR_MS };
      expect(bitwise(await collectAll(store.exportEmbeddings(range)))).toEqual(bitwise(byTsThenSymbol(rows)));
      expect(bitwise(await collectAll(store.exportEmbeddings({ ...range, symbol: "ETHUSDT" })))).toEqual(bitwise(rows.slice(450)));
      expect(api.requests.filter((r) => r.method === "GET").every((r) => r.rows <= 300)).toBe(true);
    } finally {
      await store.close();
      await api.close();
    }
  });

  it("names the SQL file that creates a missing table", async () => {
    const api = await freshDataApi();
    const store = await openSupabaseStore({ url: api.url, key: TEST_SUPABASE_SERVICE_KEY, log });
    try {
      await admin.unsafe(`drop table ${JSON.stringify(schemas.at(-1))}.ml_predictions`);
      await expect(store.newestPrediction("BTCUSDT")).rejects.toThrow(/ml_predictions.*PGRST205.*contracts\/sql\/003_ml_predictions\.sql/);
    } finally {
      await store.close();
      await api.close();
    }
  });

  it("reports a failed write with the Data API's error, and an anon key cannot write", async () => {
    const api = await freshDataApi();
    const store = await openSupabaseStore({ url: api.url, key: TEST_SUPABASE_ANON_KEY, log });
    try {
      await expect(store.upsertBars(testBars("BTCUSDT", TEST_SERIES_START, 1))).rejects.toThrow(/permission denied for table price_15s \(42501\)/);
      expect(await store.lastBarTs("BTCUSDT")).toBeNull();
    } finally {
      await store.close();
      await api.close();
    }
  });

  it("fails to open with a clear error for a bad key or a missing table", async () => {
    const api = await freshDataApi();
    try {
      await expect(openSupabaseStore({ url: api.url, key: "not-a-key", log })).rejects.toThrow(/Invalid API key/);
      await admin.unsafe(`drop table ${JSON.stringify(schemas.at(-1))}.price_15s`);
      await expect(openSupabaseStore({ url: api.url, key: TEST_SUPABASE_SERVICE_KEY, log })).rejects.toThrow(
        /price_15s.*PGRST205.*contracts\/sql\/001_price_15s\.sql/,
      );
    } finally {
      await api.close();
    }
  });
});

describe("Supabase setup SQL", () => {
  it("lets the anon role read price_15s and ml_predictions but not ai_outputs, and nobody but the owner write", async () => {
    const schema = uniqueNamespace();
    const files = await Promise.all([...SQL_MIGRATIONS, ...SUPABASE_SETUP_SQL].map((file) => readFile(file.url, "utf8")));
    // Roles and grants as a Supabase project has them, all inside a transaction that is rolled back.
    const outcome = await admin
      .begin(async (tx) => {
        await tx.unsafe(`
          do $$ begin
            if not exists (select from pg_roles where rolname = 'anon') then create role anon nologin; end if;
            if not exists (select from pg_roles where rolname = 'authenticated') then create role authenticated nologin; end if;
          end $$;
          create schema ${schema};
          set local search_path = ${schema};`);
        for (const file of files) await tx.unsafe(file).simple();
        await tx.unsafe(`
          grant usage on schema ${schema} to anon;
          grant select, insert on all tables in schema ${schema} to anon;
          insert into price_15s (symbol, ts, open, high, low, close, volume, quote_volume, trades) values ('BTCUSDT', now(), 1, 1, 1, 1, 0, 0, 0);
          insert into ai_outputs (symbol, ts, embedding) values ('BTCUSDT', now(), '{1}');
          insert into ml_predictions (symbol, ts, model_version, prob_up) values ('BTCUSDT', now(), 'v1', 0.5);
          set local role anon;`);
        const count = async (table: string) => ((await tx.unsafe(`select count(*)::int as n from ${table}`)) as unknown as [{ n: number }])[0].n;
        const visible = { price_15s: await count("price_15s"), ai_outputs: await count("ai_outputs"), ml_predictions: await count("ml_predictions") };
        const write = await tx
          .unsafe(`insert into ml_predictions (symbol, ts, model_version, prob_up) values ('ETHUSDT', now(), 'v1', 0.5)`)
          .then(() => "written", (error: Error) => error.message);
        throw Object.assign(new Error("rollback"), { visible, write });
      })
      .catch((error: Error & { visible?: unknown; write?: string }) => error);
    expect(outcome).toMatchObject({ visible: { price_15s: 1, ai_outputs: 0, ml_predictions: 1 }, write: expect.stringMatching(/row-level security/) });
  });
});

describe("openStore in Supabase mode", () => {
  const base = { DATABASE_PREPARE: true, DATA_DIR: ".data", NATS_NAMESPACE: "" };
  const jwt = (role: string) => `eyJhbGciOiJIUzI1NiJ9.${Buffer.from(JSON.stringify({ role })).toString("base64url")}.sig`;

  it("tells a key's rights from its form", () => {
    expect(supabaseKeyRole(jwt("service_role"))).toBe("write");
    expect(supabaseKeyRole(jwt("anon"))).toBe("read-only");
    expect(supabaseKeyRole("sb_secret_abc")).toBe("write");
    expect(supabaseKeyRole("sb_publishable_abc")).toBe("read-only");
    expect(supabaseKeyRole("opaque")).toBe("unknown");
    expect(supabaseKeyRole("a.!!!.c")).toBe("unknown");
  });

  it("refuses write access without a key allowed to write, naming what to set", async () => {
    const url = "http://127.0.0.1:1";
    for (const keys of [{}, { SUPABASE_ANON_KEY: jwt("anon") }, { SUPABASE_API_KEY: jwt("anon") }, { SUPABASE_API_KEY: "sb_publishable_x" }]) {
      const attempt = openStore({ ...base, SUPABASE_URL: url, ...keys }, { log, access: "write" });
      await expect(attempt).rejects.toThrow(StoreConfigError);
      await expect(attempt).rejects.toThrow(/needs a key allowed to write.*set SUPABASE_API_KEY to the project's service_role/);
    }
    await expect(openStore({ ...base, SUPABASE_URL: url }, { log, access: "read" })).rejects.toThrow(/no Data API key/);
  });

  it("reads with the anon key and writes with the service key through the configured URL", async () => {
    const api = await freshDataApi();
    const writer = await openStore({ ...base, SUPABASE_URL: api.url, SUPABASE_API_KEY: TEST_SUPABASE_SERVICE_KEY }, { log, access: "write" });
    const reader = await openStore({ ...base, SUPABASE_URL: api.url, SUPABASE_ANON_KEY: TEST_SUPABASE_ANON_KEY }, { log, access: "read" });
    try {
      expect([writer.kind, reader.kind]).toEqual(["supabase", "supabase"]);
      const bars = testBars("BTCUSDT", TEST_SERIES_START, 3);
      await writer.upsertBars(bars);
      expect(await reader.pageNewestFirst("BTCUSDT", { limit: 10 })).toEqual([...bars].reverse());
    } finally {
      await writer.close();
      await reader.close();
      await api.close();
    }
  });
});
