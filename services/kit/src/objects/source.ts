import type { ObjectBody } from "./types.ts";

/** The bytes of a body: a Uint8Array as is (no copy), a string as UTF-8. */
export function bytesOf(body: ObjectBody): Buffer {
  return typeof body === "string" ? Buffer.from(body, "utf8") : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

/**
 * A caller's stream of chunks read as Buffers, counting the bytes. It remembers whether the source itself threw,
 * so an adapter passes the caller's own error on unchanged instead of reporting it as a failing store.
 */
export class ObjectSource {
  size = 0;
  failure: { error: unknown } | undefined;

  private readonly source: AsyncIterable<ObjectBody> | Iterable<ObjectBody>;

  constructor(source: AsyncIterable<ObjectBody> | Iterable<ObjectBody>) {
    this.source = source;
  }

  async *chunks(): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of this.source) {
        const bytes = bytesOf(chunk);
        this.size += bytes.length;
        yield bytes;
      }
    } catch (error) {
      this.failure = { error };
      throw error;
    }
  }
}
