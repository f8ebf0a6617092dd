export * from "./env.ts";
export * from "./common.ts";
export * from "./store.ts";
export * from "./ingestor.ts";
export * from "./recorder.ts";
export * from "./gateway.ts";
export * from "./ml.ts";
export * from "./stack.ts";
