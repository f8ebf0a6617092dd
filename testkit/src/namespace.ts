import { randomBytes } from "node:crypto";

/** A namespace no other run shares: `t<time36><rand>`, valid as a NATS token, stream prefix and SQL identifier. */
export function uniqueNamespace(prefix = "t"): string {
  return `${prefix}${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
}
