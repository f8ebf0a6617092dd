import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Sql } from "postgres";
import { createLogger } from "../src/log.ts";
import {
  embeddedDbFile,
  openEmbeddedStore,
  openPostgresStore,
  openStore,
  openSupabaseStore,
  StoreInputError,
  StoreUnavailableError,
  type Store,
} from "../src/store/index.ts";
import {
  capturingLogger,
  connectTestPostgres,
  dropTestSchema,
  freePort,
  startPostgrestDouble,
  startTcpProxy,
  TEST_DATABASE_URL,
  TEST_SERIES_START,
  TEST_SUPABASE_ANON_KEY,
  testBars,
  testDatabaseAddress,
  testDatabaseUrlVia,
  testEmbeddings,
  uniqueNamespace,
  type ForeignAnswer,
  type PostgrestDouble,
} from "@gapfill/testkit";

const quiet = createLogger({ service: "store-test", level: "silent" });
const schemas: string[] = [];
const dirs: string[] = [];
let admin: Sql;

beforeAll(() => {
  admin = connectTestPostgres();
});
afterAll(async () => {
  for (const schema of schemas) await dropTestSchema(admin, schema);
  await admin.end();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

function freshSchema(): string {
  const schema = uniqueNamespace();
  schemas.push(schema);
  return schema;
}

/** The error `run` rejects with, which must be a StoreUnavailableError. */
async function unavailable(run: () => Promise<unknown>): Promise<StoreUnavailableError> {
  const error = await run().then(
    () => expect.unreachable("the call should fail"),
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(StoreUnavailableError);
  return error as StoreUnavailableError;
}

/** Every read of the store, each of which must fail while the backend answers nonsense. */
function everyRead(store: Store): [string, () => Promise<unknown>][] {
  const range = { fromTs: TEST_SERIES_START - 15_000, toTs: TEST_SERIES_START + 15_000 };
  return [
    ["page", () => store.pageNewestFirst("BTCUSDT", { limit: 10 })],
    ["last bar", () => store.lastBarTs("BTCUSDT")],
    ["ping", () => store.ping()],
    ["last embedding", () => store.lastEmbeddingTs("BTCUSDT")],
    ["newest embeddings", () => store.newestEmbeddings("BTCUSDT", { limit: 5 })],
    ["embedding export", async () => { for await (const row of store.exportEmbeddings(range)) void row; }],
    ["newest prediction", () => store.newestPrediction("BTCUSDT")],
    ["predictions since", () => store.predictionsSince("BTCUSDT", { modelVersion: "v1", after: 0, limit: 5 })],
  ];
}

describe("a Supabase Data API answering something unexpected", () => {
  let api: PostgrestDouble;
  const logged = capturingLogger();
  let store: Store;

  beforeAll(async () => {
    const schema = freshSchema();
    await (await openPostgresStore({ url: TEST_DATABASE_URL, prepare: true, schema, log: quiet })).close();
    api = await startPostgrestDouble({ schema });
    store = await openStore(
      { SUPABASE_URL: api.url, SUPABASE_ANON_KEY: TEST_SUPABASE_ANON_KEY, DATABASE_PREPARE: true, DATA_DIR: ".data", NATS_NAMESPACE: "" },
      { log: logged.log, access: "read" },
    );
  });
  afterAll(async () => {
    await store?.close();
    await api?.close();
  });

  const host = () => new URL(api.url).host;
  const row = { symbol: "BTCUSDT", ts: "2024-01-01T00:00:00+00:00" };
  it.each<[string, ForeignAnswer, RegExp]>([
    ["a 404 with an empty body (a wrong SUPABASE_URL behind a proxy)", { status: 404, body: "" }, /answered HTTP 404 Not Found with an empty body \(is SUPABASE_URL/],
    ["a 404 with an empty JSON list", { status: 404, contentType: "application/json", body: "[]" }, /answered HTTP 404 Not Found \(application\/json\): "\[\]"/],
    ["a login page", { status: 200, contentType: "text/html", body: "<!doctype html><title>Sign in</title>" }, /answered HTTP 200 OK \(text\/html\): "<!doctype html>/],
    ["a 502 from a proxy", { status: 502, contentType: "text/plain", body: "upstream connect error" }, /answered HTTP 502 Bad Gateway \(text\/plain\): "upstream connect error"/],
    ["a JSON object instead of rows", { status: 200, contentType: "application/json", body: "{}" }, /unexpected answer: an object where a list of rows was expected/],
    ["rows without timestamps", { status: 200, contentType: "application/json", body: JSON.stringify([{ symbol: "BTCUSDT", ts: 7 }]) }, /unexpected answer: ts is 7, expected a timestamp/],
  ])("fails every read with a StoreUnavailableError naming what arrived: %s", async (_name, answer, expected) => {
    api.answerWith(answer);
    try {
      for (const [operation, read] of everyRead(store)) {
        // A list of rows is a fine answer to "is the table there"; the others must fail.
        if (operation === "ping" && answer.status === 200 && answer.body.startsWith("[")) continue;
        const error = await unavailable(read);
        expect(error.backend, operation).toBe("supabase");
        expect(error.operation, operation).toBe(operation);
        if (operation !== "last bar" && operation !== "ping") continue;
        expect(error.answered, operation).toMatch(expected);
        expect(error.message).toMatch(new RegExp(`^supabase store, ${operation}: `));
      }
    } finally {
      api.answerWith(null);
    }
    expect(await store.lastBarTs("BTCUSDT")).toBeNull();
  });

  it("refuses rows of the wrong shape in a page, an embedding or a prediction", async () => {
    const cases: [ForeignAnswer["body"], () => Promise<unknown>, RegExp][] = [
      [JSON.stringify([{ ...row, open: "1.5" }]), () => store.pageNewestFirst("BTCUSDT", { limit: 5 }), /row 0: open is "1.5", expected a finite number/],
      [JSON.stringify([{ ...row, embedding: 3 }]), () => store.newestEmbeddings("BTCUSDT", { limit: 5 }), /embedding is 3, expected a real\[\] as text/],
      [JSON.stringify([{ ...row, model_version: "v1", prob_up: 1.5 }]), () => store.newestPrediction("BTCUSDT"), /prob_up is 1.5, expected a number from 0 to 1/],
      [JSON.stringify([{ ...row, symbol: "ETHUSDT", model_version: "v1", prob_up: 0.5 }]), () => store.newestPrediction("BTCUSDT"), /symbol is "ETHUSDT", expected "BTCUSDT"/],
    ];
    try {
      for (const [body, read, expected] of cases) {
        api.answerWith({ status: 200, contentType: "application/json", body });
        expect((await unavailable(read)).answered).toMatch(expected);
      }
    } finally {
      api.answerWith(null);
    }
  });

  it("logs the outage once with the backend and what it answered, repeats at debug, and the recovery once", async () => {
    await store.ping();
    logged.lines.length = 0;
    api.answerWith({ status: 404, body: "" });
    for (let i = 0; i < 5; i++) await unavailable(() => store.ping());
    api.answerWith(null);
    await store.ping();
    await store.ping();
    const lines = logged.lines.filter((line) => String(line.msg).startsWith("supabase store"));
    expect(lines.map((line) => line.level)).toEqual([40, 20, 20, 20, 20, 30]);
    expect(lines[0]).toMatchObject({ target: host(), operation: "ping", cause: expect.stringMatching(/HTTP 404 Not Found with an empty body/) });
    expect(lines[0]!.msg).toMatch(new RegExp(`^supabase store failing \\(${host()}\\): .*HTTP 404`));
    expect(lines[5]).toMatchObject({ msg: `supabase store recovered (${host()})`, failures: 5 });
  });

  it("still refuses bad input before any request, as a StoreInputError", async () => {
    await expect(store.pageNewestFirst("btc usdt", { limit: 5 })).rejects.toBeInstanceOf(StoreInputError);
    expect(() => store.exportEmbeddings({ fromTs: 2, toTs: 1 })).toThrow(StoreInputError);
  });

  it("fails to open, naming the host and the cause, when the Data API is unreachable or answers nonsense", async () => {
    const port = await freePort();
    const refused = await unavailable(() => openSupabaseStore({ url: `http://127.0.0.1:${port}`, key: TEST_SUPABASE_ANON_KEY, log: quiet }));
    expect(refused.answered).toBe(`no answer from 127.0.0.1:${port}: fetch failed: connect ECONNREFUSED 127.0.0.1:${port}`);
    // RFC 6761: a .invalid name never resolves.
    const unknown = await unavailable(() => openSupabaseStore({ url: "http://data-api.gapfill.invalid", key: TEST_SUPABASE_ANON_KEY, log: quiet }));
    expect(unknown.answered).toBe("no answer from data-api.gapfill.invalid: fetch failed: getaddrinfo ENOTFOUND data-api.gapfill.invalid");
    api.answerWith({ status: 404, body: "" });
    try {
      const misrouted = await unavailable(() => openSupabaseStore({ url: api.url, key: TEST_SUPABASE_ANON_KEY, log: quiet }));
      expect(misrouted.message).toMatch(/^supabase store, check of price_15s: .*answered HTTP 404 Not Found with an empty body/);
    } finally {
      api.answerWith(null);
    }
  });
});

describe("a Postgres database answering something unexpected", () => {
  it("refuses a price_15s whose columns hold the wrong types, and a cut connection, as StoreUnavailableError", async () => {
    const schema = freshSchema();
    const store = await openPostgresStore({ url: TEST_DATABASE_URL, prepare: true, schema, log: quiet });
    try {
      await store.upsertBars(testBars("BTCUSDT", TEST_SERIES_START, 3));
      // A table changed by hand: a column that may be null, and is in one row.
      await admin.unsafe(`alter table ${schema}.price_15s alter column volume drop not null`);
      await admin.unsafe(`update ${schema}.price_15s set volume = null where ts = '2024-01-01T00:00:15Z'`);
      const error = await unavailable(() => store.pageNewestFirst("BTCUSDT", { limit: 5 }));
      expect(error.backend).toBe("postgres");
      expect(error.answered).toBe("unexpected answer: row 1: volume is null, expected a finite number");
    } finally {
      await store.close();
    }

    const proxy = await startTcpProxy(testDatabaseAddress());
    const cut = await openPostgresStore({ url: testDatabaseUrlVia(proxy.port), prepare: true, schema: freshSchema(), log: quiet });
    try {
      proxy.sever();
      for (const [operation, read] of everyRead(cut)) {
        const failure = await unavailable(read);
        expect([failure.backend, failure.operation]).toEqual(["postgres", operation]);
      }
    } finally {
      await cut.close();
      await proxy.close();
    }
  });

  it("fails to open with a StoreUnavailableError naming the address when nothing listens", async () => {
    const port = await freePort();
    const error = await unavailable(() => openPostgresStore({ url: testDatabaseUrlVia(port), prepare: true, schema: freshSchema(), log: quiet }));
    expect(error.message).toMatch(new RegExp(`^postgres store, open: .*ECONNREFUSED 127\\.0\\.0\\.1:${port}`));
  });
});

describe("an embedded database holding something unexpected", () => {
  it("refuses rows a writer other than the store left in the file, in every table", async () => {
    const dir = await mkdtemp(join(tmpdir(), "gapfill-unavailable-"));
    dirs.push(dir);
    const store = openEmbeddedStore({ dataDir: dir, log: quiet });
    try {
      await store.upsertBars(testBars("BTCUSDT", TEST_SERIES_START, 2));
      await store.upsertEmbeddings(testEmbeddings("BTCUSDT", TEST_SERIES_START, 2));
      await store.upsertPredictions([{ symbol: "BTCUSDT", ts: TEST_SERIES_START, model_version: "v1", prob_up: 0.5 }]);
      // SQLite keeps any value in any column: another program wrote these.
      const other = new Database(join(dir, embeddedDbFile()));
      other.prepare("update price_15s set volume = 'lots' where ts = ?").run(TEST_SERIES_START);
      other.prepare("update ai_outputs set embedding = x'0102' where ts = ?").run(TEST_SERIES_START + 15_000);
      other.prepare("update ml_predictions set model_version = x'00'").run();
      other.close();
      expect((await unavailable(() => store.pageNewestFirst("BTCUSDT", { limit: 5 }))).answered).toBe(
        'unexpected answer: row 1: volume is "lots", expected a finite number',
      );
      expect((await unavailable(() => store.newestEmbeddings("BTCUSDT", { limit: 5 }))).answered).toMatch(/4 bytes per value, got 2 bytes/);
      expect((await unavailable(() => store.newestPrediction("BTCUSDT"))).answered).toBe(
        "unexpected answer: row 0: model_version is Buffer of 1, expected a model version",
      );
    } finally {
      await store.close();
    }
  });
});
