export * from "./errors.ts";
export * from "./contract.ts";
export * from "./scoring-model.ts";
export * from "./published-model.ts";
