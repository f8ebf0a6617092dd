/**
 * The object store contract: the same cases run against every adapter (objects-local, objects-s3). Each case works
 * under its own key prefix, so cases share one store without seeing each other's objects.
 */
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ObjectKeyError, ObjectNotFoundError, type ObjectStore } from "../src/objects/index.ts";
import { seededByteChunks, seededBytes } from "@gapfill/testkit";

export interface ObjectStoreUnderTest {
  store: ObjectStore;
  /** Releases what the run created (directories, servers). */
  teardown(): Promise<void>;
}

const MB = 1024 * 1024;
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

async function readAll(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** Expects `promise` to reject with an ObjectNotFoundError for `key`. */
async function expectNotFound(promise: Promise<unknown>, key: string): Promise<void> {
  const error = await promise.then(
    () => expect.unreachable(`${key} should be missing`),
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ObjectNotFoundError);
  expect((error as ObjectNotFoundError).key).toBe(key);
  expect((error as Error).message).toContain(key);
}

export function describeObjectStoreContract(name: string, open: () => Promise<ObjectStoreUnderTest>): void {
  describe(`${name} object store contract`, () => {
    let subject: ObjectStoreUnderTest;
    let store: ObjectStore;

    beforeAll(async () => {
      subject = await open();
      store = subject.store;
    });
    afterAll(async () => {
      await subject?.teardown();
    });

    it("round-trips Buffer, Uint8Array and string bodies exactly, by get, getStream and head", async () => {
      const everyByte = Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 7) % 256));
      const view = new Uint8Array(everyByte.buffer, everyByte.byteOffset + 3, 100);
      const text = '{"price":"42000.1","note":"é ü 😀"}\r\n';
      const bodies: [string, Uint8Array | string, Buffer][] = [
        ["trip/bytes.bin", everyByte, everyByte],
        ["trip/view.bin", view, Buffer.from(view)],
        ["trip/text.json", text, Buffer.from(text, "utf8")],
        ["trip/empty", "", Buffer.alloc(0)],
      ];
      for (const [key, body] of bodies) await store.put(key, body);
      for (const [key, , expected] of bodies) {
        expect(await store.get(key)).toEqual(expected);
        expect(await readAll(await store.getStream(key))).toEqual(expected);
        const info = await store.head(key);
        expect(info).toMatchObject({ key, size: expected.length });
        expect(info.lastModified).toBeInstanceOf(Date);
        expect(Math.abs(info.lastModified.getTime() - Date.now())).toBeLessThan(10 * 60_000);
      }
      expect((await store.list("trip/")).map((info) => [info.key, info.size])).toEqual([
        ["trip/bytes.bin", 512],
        ["trip/empty", 0],
        ["trip/text.json", Buffer.byteLength(text)],
        ["trip/view.bin", 100],
      ]);
    });

    it("reports a missing key as ObjectNotFoundError carrying it; delete of a missing key is a no-op", async () => {
      await expectNotFound(store.get("missing/a.json"), "missing/a.json");
      await expectNotFound(store.getStream("missing/a.json"), "missing/a.json");
      await expectNotFound(store.head("missing/a.json"), "missing/a.json");
      await store.delete("missing/a.json");

      await store.put("missing/b/c.json", "{}");
      // A prefix of stored keys is not itself an object.
      await expectNotFound(store.get("missing/b"), "missing/b");
      await expectNotFound(store.head("missing/b"), "missing/b");
      await expectNotFound(store.get("missing/b/c.json/d"), "missing/b/c.json/d");
      await store.delete("missing/b/c.json");
      await store.delete("missing/b/c.json");
      await expectNotFound(store.get("missing/b/c.json"), "missing/b/c.json");
      expect(await store.list("missing/")).toEqual([]);
    });

    it("replaces an object on overwrite, a shorter body leaving nothing of the longer one", async () => {
      await store.put("over/model.json", seededBytes(1, 5000));
      await store.put("over/model.json", "v2");
      expect((await store.get("over/model.json")).toString()).toBe("v2");
      expect((await store.head("over/model.json")).size).toBe(2);
      await store.putStream("over/model.json", seededByteChunks(2, 3000, 1000));
      expect(await store.get("over/model.json")).toEqual(seededBytes(2, 3000));
      expect((await store.list("over/")).map((info) => info.key)).toEqual(["over/model.json"]);
    });

    it("stores a 10 MB object byte for byte", async () => {
      const bytes = seededBytes(10, 10 * MB);
      await store.put("large/ten.bin", bytes);
      const got = await store.get("large/ten.bin");
      expect(got.length).toBe(bytes.length);
      expect(sha256(got)).toBe(sha256(bytes));
      expect(sha256(await readAll(await store.getStream("large/ten.bin")))).toBe(sha256(bytes));
      expect((await store.head("large/ten.bin")).size).toBe(10 * MB);
    });

    it("stores a streamed upload of unknown length byte for byte: a Readable of odd chunks, and text lines", async () => {
      // Larger than two multipart parts, in chunks that do not divide a part.
      const length = 12 * MB + 12_345;
      const { size } = await store.putStream("stream/export.bin", Readable.from(seededByteChunks(3, length, 100_003)));
      expect(size).toBe(length);
      const got = await store.get("stream/export.bin");
      expect(got.length).toBe(length);
      expect(sha256(got)).toBe(sha256(seededBytes(3, length)));

      const lines = Array.from({ length: 20_000 }, (_, i) => `${JSON.stringify({ ts: 1_700_000_000_000 + i * 15_000, close: i / 7, note: "é" })}\n`);
      async function* jsonl() {
        for (const line of lines) yield line;
      }
      const written = await store.putStream("stream/train.jsonl", jsonl());
      const text = lines.join("");
      expect(written.size).toBe(Buffer.byteLength(text));
      expect((await store.get("stream/train.jsonl")).toString("utf8")).toBe(text);
    });

    it("stores nothing when the streamed source fails, keeps the previous object, and passes the source's error on", async () => {
      await store.put("failed/export.bin", "previous");
      const failure = new Error("export query failed");
      async function* failing() {
        yield* seededByteChunks(4, 6 * MB, 256 * 1024);
        throw failure;
      }
      await expect(store.putStream("failed/export.bin", failing())).rejects.toBe(failure);
      await expect(store.putStream("failed/new.bin", failing())).rejects.toBe(failure);
      expect((await store.get("failed/export.bin")).toString()).toBe("previous");
      await expectNotFound(store.get("failed/new.bin"), "failed/new.bin");
      expect((await store.list("failed/")).map((info) => [info.key, info.size])).toEqual([["failed/export.bin", 8]]);
    });

    it("lists every key past 1,000 (one S3 page), in key order, with sizes", async () => {
      const keys = Array.from({ length: 1005 }, (_, i) => `many/${(i * 7919) % 1005}.json`);
      for (let i = 0; i < keys.length; i += 25) {
        await Promise.all(keys.slice(i, i + 25).map((key) => store.put(key, key)));
      }
      const listed = await store.list("many/");
      expect(listed).toHaveLength(1005);
      // ASCII keys: byte order is JavaScript's default order ("many/1.json" < "many/10.json" < "many/2.json").
      expect(listed.map((info) => info.key)).toEqual([...keys].sort());
      for (const info of listed) expect(info.size).toBe(Buffer.byteLength(info.key));
    });

    it("keeps keys with slashes and matches a prefix that is not a folder boundary", async () => {
      const keys = [
        "layout/model/latest.json",
        "layout/model/v1/model.onnx",
        "layout/train/run1/meta.json",
        "layout/train/run1/train.jsonl",
        "layout/train/run2/train.jsonl",
        "layout/train/rx",
        "layout/training.txt",
        "layout/x y/ü 😀.json",
      ];
      for (const key of [...keys].reverse()) await store.put(key, `body of ${key}`);
      const keysOf = async (prefix: string) => (await store.list(prefix)).map((info) => info.key);
      expect(await keysOf("layout/")).toEqual(keys);
      expect(await keysOf("layout/train/ru")).toEqual(keys.slice(2, 5));
      expect(await keysOf("layout/train/")).toEqual(keys.slice(2, 6));
      expect(await keysOf("layout/train")).toEqual(keys.slice(2, 7));
      expect(await keysOf("layout/model/latest.json")).toEqual(["layout/model/latest.json"]);
      expect(await keysOf("layout/model/latest.json/")).toEqual([]);
      expect(await keysOf("layout/nothing/")).toEqual([]);
      expect(await keysOf("layout/x y/ü")).toEqual(["layout/x y/ü 😀.json"]);
      expect((await keysOf("")).filter((key) => key.startsWith("layout/"))).toEqual(keys);
      for (const key of keys) expect((await store.get(key)).toString()).toBe(`body of ${key}`);
    });

    it("lets a key take the name of a folder that its deletes emptied", async () => {
      await store.put("reuse/a/b/c.json", "deep");
      await store.delete("reuse/a/b/c.json");
      await store.put("reuse/a", "now an object");
      expect((await store.get("reuse/a")).toString()).toBe("now an object");
      expect((await store.list("reuse/")).map((info) => info.key)).toEqual(["reuse/a"]);
    });

    it("refuses bad keys and prefixes with an ObjectKeyError before any I/O", async () => {
      const badKeys = [
        "",
        "/model/latest.json",
        "model/../secret",
        "..",
        "model/./latest.json",
        ".",
        "model//latest.json",
        "model/",
        "model\\latest.json",
        "model/late\u0000st.json",
        "model/late\nst.json",
        "x".repeat(1025),
        `model/${"n".repeat(201)}`,
        "model/latest.json.partial-0123456789abcdef",
      ];
      for (const key of badKeys) {
        for (const call of [
          () => store.put(key, "x"),
          () => store.putStream(key, seededByteChunks(5, 10)),
          () => store.get(key),
          () => store.getStream(key),
          () => store.head(key),
          () => store.delete(key),
        ]) {
          const error = await call().then(
            () => expect.unreachable(`key ${JSON.stringify(key)} should be refused`),
            (reason: unknown) => reason,
          );
          expect(error).toBeInstanceOf(ObjectKeyError);
          expect((error as ObjectKeyError).key).toBe(key);
          expect((error as Error).message).toMatch(/^bad object key /);
        }
      }
      for (const prefix of ["/model", "../", "model/../", "a//", "a\\b", "a\u0000"]) {
        await expect(store.list(prefix)).rejects.toBeInstanceOf(ObjectKeyError);
      }
      // Odd but valid: dots inside names, a leading dot, the longest names in the longest key.
      const longest = `odd/${Array(5).fill("n".repeat(200)).join("/")}/${"z".repeat(15)}`;
      expect(Buffer.byteLength(longest)).toBe(1024);
      for (const key of ["odd/a..b/.hidden", "odd/v1.2/model.onnx", longest]) {
        await store.put(key, "ok");
        expect((await store.get(key)).toString()).toBe("ok");
      }
    });
  });
}
