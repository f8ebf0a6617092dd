export { embeddingAt, featurize, FeatureWindowError } from "./featurize.ts";
export { DEFAULT_EMBEDDER_TUNING, EMBEDDER_DURABLE, startEmbedder, type EmbedderDeps, type EmbedderTuning } from "./embedder.ts";
export { embedderService } from "./service.ts";
