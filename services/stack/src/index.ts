export * from "./stack.ts";
export * from "./demo-isolation.ts";
export * from "./local-nats.ts";
export * from "./supervisor.ts";
