import { modelManifestSchema, type ModelManifest } from "@gapfill/contracts";
import { sha256Hex } from "../digest.ts";
import { ObjectNotFoundError } from "../objects/errors.ts";
import type { ObjectStore } from "../objects/types.ts";

/**
 * What is wrong with a published model's files: `manifest` (a pointer or model.json that is not JSON or not a model
 * manifest), `missing` (an artifact it names is not there), `sha256` (an artifact's bytes are not the ones it names).
 */
export type PublishedModelProblem = "manifest" | "missing" | "sha256";

/** A published model file that is missing, unreadable or not the bytes its manifest names. */
export class PublishedModelError extends Error {
  override name = "PublishedModelError";
  readonly problem: PublishedModelProblem;

  constructor(
    problem: PublishedModelProblem,
    message: string,
  ) {
    super(message);
    this.problem = problem;
  }
}

/** The manifest at `key` (latest.json, or a version's model.json); null when there is none. */
export async function readModelManifest(objects: ObjectStore, key: string): Promise<ModelManifest | null> {
  let text: string;
  try {
    text = (await objects.get(key)).toString("utf8");
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return null;
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new PublishedModelError("manifest", `${key} is not JSON: ${(error as Error).message}`);
  }
  const parsed = modelManifestSchema.safeParse(json);
  if (!parsed.success) throw new PublishedModelError("manifest", `${key} is not a model manifest: ${parsed.error.message}`);
  return parsed.data;
}

/** A manifest's artifact, checked against the sha256 the manifest records for it. */
export async function readArtifact(objects: ObjectStore, manifest: ModelManifest, role: string): Promise<Buffer> {
  const key = manifest.artifacts[role];
  if (!key) throw new PublishedModelError("manifest", `model ${manifest.version} names no ${role} artifact`);
  let bytes: Buffer;
  try {
    bytes = await objects.get(key);
  } catch (error) {
    if (error instanceof ObjectNotFoundError) throw new PublishedModelError("missing", `model ${manifest.version}: ${key} is missing`);
    throw error;
  }
  const expected = manifest.sha256[role];
  const actual = sha256Hex(bytes);
  if (expected !== actual) {
    throw new PublishedModelError("sha256", `model ${manifest.version}: ${key} has sha256 ${actual}, its manifest says ${expected}`);
  }
  return bytes;
}
