/**
 * Test support shared by every workspace's tests and the benchmarks: unique namespaces on the real servers, condition waits with
 * deadlines, and clean-up of what a test created. Never imported by production code.
 */
export * from "./namespace.ts";
export { waitFor, type WaitOptions } from "@gapfill/kit";
export * from "./nats.ts";
export * from "./postgres.ts";
export * from "./bars.ts";
export * from "./embeddings.ts";
export * from "./random.ts";
export * from "./postgrest.ts";
export * from "./timing.ts";
export * from "./tcp-proxy.ts";
export * from "./stream-bars.ts";
export * from "./stream-predictions.ts";
export * from "./sse-client.ts";
export * from "./log.ts";
export * from "./nats-server.ts";
export * from "./ports.ts";
export * from "./s3.ts";
export * from "./bytes.ts";
export * from "./metrics.ts";
export * from "./sagemaker.ts";
export * from "./service-process.ts";
