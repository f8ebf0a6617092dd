export * from "./batch.ts";
export * from "./publisher.ts";
export * from "./metrics.ts";
export * from "./model-slot.ts";
export * from "./pass.ts";
export * from "./inference.ts";
export { mlInferService } from "./service.ts";
