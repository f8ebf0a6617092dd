import { basename, dirname } from "node:path";
import type { Readable } from "node:stream";
import { create, Parser, type ReadEntry } from "tar";

/**
 * `sourcedir.tar.gz`: the program alone at the archive's root, as the SageMaker SDK packs an entry point. Written
 * with a fixed mtime and no owner, so the same program gives the same bytes.
 */
export async function sourceDirArchive(programPath: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of create({ gzip: true, cwd: dirname(programPath), portable: true, mtime: new Date(0) }, [basename(programPath)])) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** An archive that lacks a file it must hold, or cannot be read. */
export class ArchiveError extends Error {
  override name = "ArchiveError";
}

/**
 * The regular files named `wanted` (at the root, `./` allowed) from a tar or tar.gz stream, such as SageMaker's
 * `model.tar.gz`; other entries are skipped without being held. Throws an ArchiveError naming what is missing.
 */
export async function readArchiveFiles(source: Readable, wanted: readonly string[], what: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const onReadEntry = (entry: ReadEntry) => {
    const name = entry.path.replace(/^\.\//, "");
    if (entry.type !== "File" || !wanted.includes(name)) {
      entry.resume();
      return;
    }
    const chunks: Buffer[] = [];
    entry.on("data", (chunk: Buffer) => chunks.push(chunk));
    entry.on("end", () => files.set(name, Buffer.concat(chunks)));
  };
  const parser = new Parser({ onReadEntry, strict: true });
  await new Promise<void>((resolve, reject) => {
    const fail = (error: Error) => reject(new ArchiveError(`${what}: not a readable tar archive (${error.message})`));
    source.once("error", fail);
    parser.once("error", fail);
    parser.once("close", () => resolve());
    source.pipe(parser);
  });
  const missing = wanted.filter((name) => !files.has(name));
  if (missing.length > 0) throw new ArchiveError(`${what} holds no ${missing.join(", ")}`);
  return files;
}
