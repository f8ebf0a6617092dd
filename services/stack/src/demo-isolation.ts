import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { AWS_CREDENTIAL_VARIABLES, namespaceSchema } from "@gapfill/contracts";
import { connectNats, deleteEmbeddedStore, deleteTopology, localObjectDir, type Logger } from "@gapfill/kit";

/** Variables that lead to real bars or a real project: the demo never hands them to a service. */
const REAL_DATA_VARIABLES = [
  "DATABASE_URL",
  "DATABASE_SCHEMA",
  "DATABASE_PREPARE",
  "SUPABASE_URL",
  "SUPABASE_API_KEY",
  "SUPABASE_ANON_KEY",
  "SUPABASE_JWKS_URL",
  "SUPABASE_JWT_SECRET",
  "SUPABASE_ALLOW_SUB",
  // The ML jobs' bucket and SageMaker: the demo trains in-process and keeps its models under DATA_DIR.
  "OBJECT_STORE",
  "OBJECT_STORE_DIR",
  "S3_ENDPOINT",
  "LANDING_BUCKET",
  "SAGEMAKER_ROLE_ARN",
  "SAGEMAKER_ENDPOINT",
  ...AWS_CREDENTIAL_VARIABLES,
] as const;

export interface DemoIsolation {
  /** The demo's NATS_NAMESPACE: `demo`, or `<NATS_NAMESPACE>_demo`. Its streams, KV bucket and store file follow it. */
  namespace: string;
  /** Variables set in the environment that the demo leaves out. */
  ignored: string[];
}

/**
 * Simulated bars must never mix with real ones: `npm start` after `npm run demo` (or the other way round) on the
 * same NATS server and DATA_DIR would otherwise resume one series from the other's last bar. So the demo runs in
 * its own namespace (streams `demo_BARS`, …, embedded file `bars.demo.sqlite3`) and never reaches a database or
 * Supabase project the environment points at.
 */
export function demoIsolation(env: NodeJS.ProcessEnv): DemoIsolation {
  const base = env.NATS_NAMESPACE?.trim() ?? "";
  const namespace = base ? `${base}_demo` : "demo";
  if (!namespaceSchema.safeParse(namespace).success) {
    throw new Error(
      `NATS_NAMESPACE: the demo would run in "${namespace}", not a valid namespace; expected up to 27 letters, digits, '_' or '-'`,
    );
  }
  return { namespace, ignored: REAL_DATA_VARIABLES.filter((name) => env[name] !== undefined && env[name] !== "") };
}

/**
 * Every demo starts a fresh simulated market: a new simulator draws another market over the same hours, so bars
 * left by an earlier demo would join the new ones with a jump in price and aggregate ids that run backwards. Deletes
 * the demo namespace's streams, bucket, embedded store file and object folder (training sets and models of the old
 * market); returns what it removed.
 */
export async function resetDemoData(options: { natsUrl: string; namespace: string; dataDir: string; log: Logger }): Promise<string[]> {
  const nc = await connectNats({ url: options.natsUrl, name: "gapfill-stack", log: options.log });
  try {
    const streams = await deleteTopology(nc, options.namespace);
    const objects = localObjectDir(join(options.dataDir, "objects"), options.namespace);
    const hadObjects = existsSync(objects);
    rmSync(objects, { recursive: true, force: true });
    return [...streams, ...deleteEmbeddedStore(options.dataDir, options.namespace), ...(hadObjects ? [objects] : [])];
  } finally {
    await nc.close();
  }
}
