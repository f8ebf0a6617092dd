import { ObjectKeyError } from "./errors.ts";

/** S3's limit on a key, in UTF-8 bytes. */
export const MAX_OBJECT_KEY_BYTES = 1024;

/** Filesystems cap a name at 255 bytes, and the local store's temp file adds 25 to it. */
export const MAX_OBJECT_NAME_BYTES = 200;

/**
 * The local store writes an object to `<file>.partial-<16 hex>` and renames it into place; keys never end that way,
 * so a temp file can never be taken for an object (and is never listed).
 */
export const PARTIAL_SUFFIX = /\.partial-[0-9a-f]{16}$/;

// C0 controls and DEL (NUL among them), and the backslash, which is a separator on some filesystems.
const isForbidden = (char: string) => char < " " || char === "\u007f" || char === "\\";

function checkCharacters(key: string): void {
  if (key.startsWith("/")) throw new ObjectKeyError(key, "expected a relative path, not one starting with '/'");
  if ([...key].some(isForbidden)) throw new ObjectKeyError(key, "expected no backslash and no control character (NUL, newline, ...)");
  if (Buffer.byteLength(key) > MAX_OBJECT_KEY_BYTES) throw new ObjectKeyError(key, `expected at most ${MAX_OBJECT_KEY_BYTES} UTF-8 bytes`);
}

function checkSegment(key: string, segment: string): void {
  // On a filesystem 'a//b' and 'a/./b' are 'a/b' and '..' leaves the folder, while S3 keeps them apart: refused.
  if (segment === "" || segment === "." || segment === "..") {
    throw new ObjectKeyError(key, "expected '/'-separated names, none of them empty, '.' or '..'");
  }
  if (Buffer.byteLength(segment) > MAX_OBJECT_NAME_BYTES) {
    throw new ObjectKeyError(key, `expected names of at most ${MAX_OBJECT_NAME_BYTES} UTF-8 bytes between the '/'`);
  }
  if (PARTIAL_SUFFIX.test(segment)) throw new ObjectKeyError(key, "names ending in .partial-<16 hex digits> are reserved for temp files");
}

/**
 * A key both stores accept, so an object can move between them: a relative `/`-separated path such as
 * `model/<version>/model.onnx`. Returns the key; throws an ObjectKeyError saying what is expected.
 */
export function checkObjectKey(key: string): string {
  if (typeof key !== "string" || key.length === 0) throw new ObjectKeyError(String(key), "expected a non-empty string");
  checkCharacters(key);
  for (const segment of key.split("/")) checkSegment(key, segment);
  return key;
}

/** A list prefix: empty, or a key's start (`train/`, `train/ru`); its last, partial name is only matched, never a path. */
export function checkObjectPrefix(prefix: string): string {
  if (typeof prefix !== "string") throw new ObjectKeyError(String(prefix), "expected a string prefix");
  if (prefix === "") return prefix;
  checkCharacters(prefix);
  for (const segment of prefix.split("/").slice(0, -1)) checkSegment(prefix, segment);
  return prefix;
}

/** S3's list order: keys compared as UTF-8 bytes (which differs from JavaScript's UTF-16 order past U+FFFF). */
export function compareObjectKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
