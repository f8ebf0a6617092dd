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

const stack = await runStack({
  mode: values.demo ? "demo" : "live",
  config,
  color,
  onFatal: () => process.exit(1),
}).catch((error: Error) => {
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => void stack.stop().then(() => process.exit(0)));
}

try {
  await stack.ready();
  stack.supervisor.line("stack", `ready: open ${stack.gatewayUrl.replace("127.0.0.1", "localhost")}/ (Ctrl-C stops everything)`);
} catch (error) {
  stack.supervisor.line("stack", `${(error as Error).message}; still trying — see the service logs above`);
}
