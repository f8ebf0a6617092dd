/**
 * `npm start` (live Binance) and `npm run demo` (`--demo`: offline, fed by the Binance simulator): the whole stack
 * on one machine. Ctrl-C stops everything cleanly.
 */
import { parseArgs } from "node:util";
import { stackConfigSchema } from "@gapfill/contracts";
import { loadConfigOrExit } from "@gapfill/kit";
import { runStack } from "./stack.ts";

const { values } = parseArgs({ options: { demo: { type: "boolean", default: false } } });
const config = loadConfigOrExit(stackConfigSchema, "stack");
const color = Boolean(process.stdout.isTTY);

// Installed before anything starts: a Ctrl-C during start-up stops what was started so far.
const starting = new AbortController();
let stopStack: (() => Promise<void>) | null = null;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => (stopStack ? void stopStack().then(() => process.exit(0)) : starting.abort()));
}

const stack = await runStack({
  mode: values.demo ? "demo" : "live",
  config,
  color,
  signal: starting.signal,
  onFatal: () => process.exit(1),
}).catch((error: Error) => {
  process.stderr.write(`${starting.signal.aborted ? "stopped during start-up" : error.message}\n`);
  process.exit(starting.signal.aborted ? 0 : 1);
});
stopStack = stack.stop;
if (starting.signal.aborted) {
  await stack.stop();
  process.exit(0);
}

try {
  await stack.ready();
  stack.supervisor.line("stack", `ready: open ${stack.gatewayUrl.replace("127.0.0.1", "localhost")}/ (Ctrl-C stops everything)`);
} catch (error) {
  stack.supervisor.line("stack", `${(error as Error).message}; still trying — see the service logs above`);
}
