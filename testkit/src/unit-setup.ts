/**
 * Setup of the unit tier (`npm run test:unit`, files named `*.unit.test.ts`): pure modules only. A unit test that
 * opens a connection, listens on a port or starts a process fails at once, naming what it tried: such a test belongs
 * in the integration tier (a plain `*.test.ts`), where the real servers are.
 */
import childProcess from "node:child_process";
import net from "node:net";

function refuse(what: string): never {
  throw new Error(`a unit test may not ${what}: name the file *.test.ts (integration tier) instead of *.unit.test.ts`);
}

net.Socket.prototype.connect = function connect() {
  return refuse("open a network connection");
} as typeof net.Socket.prototype.connect;
net.Server.prototype.listen = function listen() {
  return refuse("listen on a port");
} as typeof net.Server.prototype.listen;
for (const name of ["spawn", "spawnSync", "exec", "execSync", "execFile", "execFileSync", "fork"] as const) {
  (childProcess as unknown as Record<string, unknown>)[name] = () => refuse("start a process");
}
