export * from "./config.ts";
export * from "./log.ts";
export * from "./nats.ts";
export * from "./jetstream.ts";
export * from "./shutdown.ts";
export * from "./metrics.ts";
export * from "./store/index.ts";
export * from "./redact.ts";
