/**
 * `npm run token -- --sub <id> [--ttl <seconds>]`: prints a token that a gateway in local mode (no SUPABASE_URL)
 * accepts, signed with the same local secret (LOCAL_JWT_SECRET, or the file in DATA_DIR).
 */
import { parseArgs } from "node:util";
import { gatewayConfigSchema } from "@gapfill/contracts";
import { loadConfigOrExit } from "@gapfill/kit";
import { loadLocalSecret, signLocalToken } from "./local-mode.ts";

const USAGE = "usage: npm run token -- --sub <user id> [--ttl <seconds, default 3600>]";

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({ options: { sub: { type: "string" }, ttl: { type: "string", default: "3600" } } }));
} catch (error) {
  fail(`${(error as Error).message}\n${USAGE}`);
}
if (!values.sub) fail(USAGE);
const ttlSeconds = Number(values.ttl);
if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > 30 * 24 * 3600) fail(`--ttl: expected whole seconds from 1 to 2592000\n${USAGE}`);

const config = loadConfigOrExit(gatewayConfigSchema, "token");
if (config.SUPABASE_URL) {
  fail("SUPABASE_URL is set, so the gateway accepts only Supabase tokens: sign in through Supabase instead.");
}
const { secret } = await loadLocalSecret(config);
const { token } = await signLocalToken(secret, { sub: values.sub, ttlSeconds, nowMs: Date.now() });
process.stdout.write(`${token}\n`);
