export type DecodedJson = { ok: true; value: unknown } | { ok: false; reason: string };

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The JSON value of a message body, or why it has none (not UTF-8, not JSON). */
export function decodeJsonMessage(data: Uint8Array): DecodedJson {
  try {
    return { ok: true, value: JSON.parse(utf8.decode(data)) };
  } catch (error) {
    return { ok: false, reason: `not JSON: ${(error as Error).message}` };
  }
}
