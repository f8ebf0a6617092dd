export * from "./errors.ts";
export * from "./contract.ts";
export * from "./scoring-model.ts";
