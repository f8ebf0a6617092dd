import { createCipheriv, createHash } from "node:crypto";

/**
 * `length` pseudo-random bytes from `seed`, in chunks of `chunkSize` (the last may be shorter): AES-128-CTR over
 * zeros, so any size is cheap to make and, for the same seed, the chunks of any size join up to the same bytes.
 */
export function* seededByteChunks(seed: number, length: number, chunkSize = 64 * 1024): Generator<Buffer> {
  const key = createHash("sha256").update(`seededBytes ${seed}`).digest().subarray(0, 16);
  const cipher = createCipheriv("aes-128-ctr", key, Buffer.alloc(16));
  for (let done = 0; done < length; done += chunkSize) yield cipher.update(Buffer.alloc(Math.min(chunkSize, length - done)));
}

/** The same bytes as seededByteChunks(seed, length), in one Buffer. */
export function seededBytes(seed: number, length: number): Buffer {
  return Buffer.concat([...seededByteChunks(seed, length)]);
}
