export * from "./stack.ts";
export * from "./local-nats.ts";
export * from "./supervisor.ts";
