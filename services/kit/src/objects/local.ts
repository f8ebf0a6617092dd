import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rm, rmdir, stat, unlink, type FileHandle } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ObjectNotFoundError, ObjectStoreError } from "./errors.ts";
import { checkObjectKey, checkObjectPrefix, compareObjectKeys, PARTIAL_SUFFIX } from "./keys.ts";
import { bytesOf, ObjectSource } from "./source.ts";
import type { ObjectBody, ObjectInfo, ObjectStore } from "./types.ts";

export interface LocalObjectStoreOptions {
  /** `OBJECT_STORE_DIR`, created if missing. */
  dir: string;
  /** `NATS_NAMESPACE`: objects of different namespaces never share a folder (empty: `dir` itself). */
  namespace?: string;
}

/**
 * The folder of a namespace's objects: `dir` itself, or `<dir>.<namespace>` beside it, as the embedded store names
 * its files `bars.sqlite3` and `bars.<namespace>.sqlite3` (a folder inside `dir` could collide with a key).
 */
export function localObjectDir(dir: string, namespace = ""): string {
  const base = resolve(dir);
  return namespace ? `${base}.${namespace}` : base;
}

const codeOf = (error: unknown) => (error as NodeJS.ErrnoException | undefined)?.code;

// The path names no file: it is missing, a folder (the start of other keys), or one of its folders is a file.
const NOT_A_FILE = new Set(["ENOENT", "ENOTDIR", "EISDIR"]);

const KEY_IS_FOLDER_HINT =
  " (in a local directory a key cannot be both an object and a folder of other keys, like a and a/b)";

/**
 * Objects as files under one directory, in the key's layout (`model/latest.json` is `<dir>/model/latest.json`), for
 * development and the demo. A write goes to a temp file in the same folder, is flushed to disk, then renamed over
 * the object, so a reader (another process too) sees the old file or the new one whole, never a part.
 */
export async function openLocalObjectStore(options: LocalObjectStoreOptions): Promise<ObjectStore> {
  const dir = localObjectDir(options.dir, options.namespace);
  const store = new LocalObjectStore(dir);
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw new ObjectStoreError("local", store.describe, "open", undefined, error);
  }
  return store;
}

class LocalObjectStore implements ObjectStore {
  readonly kind = "local" as const;
  readonly describe: string;

  readonly location: string;

  constructor(location: string) {
    this.location = location;
    this.describe = `local directory ${location}`;
  }

  async put(key: string, body: ObjectBody): Promise<void> {
    await this.write("put", checkObjectKey(key), new ObjectSource([bytesOf(body)]));
  }

  async putStream(key: string, source: AsyncIterable<ObjectBody> | Iterable<ObjectBody>): Promise<{ size: number }> {
    const counted = new ObjectSource(source);
    await this.write("putStream", checkObjectKey(key), counted);
    return { size: counted.size };
  }

  async get(key: string): Promise<Buffer> {
    const path = this.pathOf(checkObjectKey(key));
    try {
      return await readFile(path);
    } catch (error) {
      throw this.readFailure("get", key, error);
    }
  }

  async getStream(key: string): Promise<Readable> {
    const path = this.pathOf(checkObjectKey(key));
    let handle: FileHandle;
    try {
      handle = await open(path, "r");
    } catch (error) {
      throw this.readFailure("getStream", key, error);
    }
    // Opening a folder succeeds on Linux; it is the start of other keys, not an object.
    if (!(await handle.stat()).isFile()) {
      await handle.close();
      throw new ObjectNotFoundError(key, this.describe);
    }
    // The open handle reads the file whole even if a writer renames a new version over it meanwhile.
    return handle.createReadStream();
  }

  async head(key: string): Promise<ObjectInfo> {
    const path = this.pathOf(checkObjectKey(key));
    let info;
    try {
      info = await stat(path);
    } catch (error) {
      throw this.readFailure("head", key, error);
    }
    if (!info.isFile()) throw new ObjectNotFoundError(key, this.describe);
    return { key, size: info.size, lastModified: info.mtime };
  }

  async list(prefix = ""): Promise<ObjectInfo[]> {
    checkObjectPrefix(prefix);
    // Walk only the folder the prefix names whole (`train/` of `train/ru`); the rest of it is matched by name.
    const folderKey = prefix.slice(0, prefix.lastIndexOf("/") + 1);
    const found: ObjectInfo[] = [];
    try {
      await this.walk(folderKey, prefix, found);
    } catch (error) {
      throw new ObjectStoreError("local", this.describe, "list", prefix || undefined, error);
    }
    return found.sort((a, b) => compareObjectKeys(a.key, b.key));
  }

  async delete(key: string): Promise<void> {
    const path = this.pathOf(checkObjectKey(key));
    try {
      await unlink(path);
    } catch (error) {
      if (NOT_A_FILE.has(codeOf(error) ?? "")) return;
      throw new ObjectStoreError("local", this.describe, "delete", key, error);
    }
    await this.removeEmptyFolders(dirname(path));
  }

  async close(): Promise<void> {}

  private pathOf(key: string): string {
    return join(this.location, key);
  }

  private readFailure(operation: string, key: string, error: unknown): Error {
    if (NOT_A_FILE.has(codeOf(error) ?? "")) return new ObjectNotFoundError(key, this.describe);
    return new ObjectStoreError("local", this.describe, operation, key, error);
  }

  private async write(operation: string, key: string, source: ObjectSource): Promise<void> {
    const path = this.pathOf(key);
    const temp = `${path}.partial-${randomBytes(8).toString("hex")}`;
    const handle = await this.createTemp(operation, key, temp);
    try {
      // Flushed to disk (and closed) before it gets the object's name, so after a power cut that name holds the old
      // file or the new one whole.
      await pipeline(source.chunks(), handle.createWriteStream({ flush: true }));
      await rename(temp, path);
    } catch (error) {
      await rm(temp, { force: true });
      if (source.failure) throw source.failure.error;
      const hint = codeOf(error) === "EISDIR" ? KEY_IS_FOLDER_HINT : "";
      throw new ObjectStoreError("local", this.describe, operation, key, error, hint);
    }
  }

  /** Creates the key's folders and its temp file; again if a delete removed an emptied folder in between. */
  private async createTemp(operation: string, key: string, temp: string): Promise<FileHandle> {
    for (let attempt = 1; ; attempt++) {
      try {
        await mkdir(dirname(temp), { recursive: true });
        return await open(temp, "wx");
      } catch (error) {
        if (codeOf(error) === "ENOENT" && attempt < 3) continue;
        const hint = codeOf(error) === "ENOTDIR" || codeOf(error) === "EEXIST" ? KEY_IS_FOLDER_HINT : "";
        throw new ObjectStoreError("local", this.describe, operation, key, error, hint);
      }
    }
  }

  /** Removes the folders a delete left empty, up to the store's own, so a later key may take a folder's name. */
  private async removeEmptyFolders(folder: string): Promise<void> {
    for (let dir = folder; dir !== this.location; dir = dirname(dir)) {
      try {
        await rmdir(dir);
      } catch {
        return; // not empty (or already gone): the folders above are not empty either
      }
    }
  }

  private async walk(folderKey: string, prefix: string, found: ObjectInfo[]): Promise<void> {
    let entries;
    try {
      entries = await readdir(this.pathOf(folderKey), { withFileTypes: true });
    } catch (error) {
      if (NOT_A_FILE.has(codeOf(error) ?? "")) return;
      throw error;
    }
    const files: string[] = [];
    for (const entry of entries) {
      const key = folderKey + entry.name;
      if (entry.isDirectory()) {
        const sub = `${key}/`;
        if (sub.startsWith(prefix) || prefix.startsWith(sub)) await this.walk(sub, prefix, found);
      } else if (entry.isFile() && key.startsWith(prefix) && !PARTIAL_SUFFIX.test(entry.name)) {
        files.push(key);
      }
    }
    const infos = await Promise.all(
      files.map((key) =>
        stat(this.pathOf(key)).then(
          (info) => ({ key, size: info.size, lastModified: info.mtime }),
          // Deleted since the folder was read: not listed.
          (error: unknown) => (codeOf(error) === "ENOENT" ? undefined : Promise.reject(error)),
        ),
      ),
    );
    for (const info of infos) if (info) found.push(info);
  }
}
