/** Prints the sha256 of a 24 h BTCUSDT tape: `tape-hash.fixture.ts <seed> <now>` (run in a child process by tape.test.ts). */
import { createHash } from "node:crypto";
import { marketSpec } from "../src/market.ts";
import { Tape } from "../src/tape.ts";

const [seed, now] = process.argv.slice(2).map(Number) as [number, number];
const tape = new Tape({ spec: marketSpec("BTCUSDT"), seed, startMs: now - 24 * 3_600_000, expectedTrades: 2_200_000 });
tape.extendTo(now);
const hash = createHash("sha256");
for (const column of tape.columns(tape.firstIndexAfter(now))) hash.update(new Uint8Array(column.buffer, column.byteOffset, column.byteLength));
console.log(hash.digest("hex"));
