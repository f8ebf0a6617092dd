export { embeddingAt, featurize, FeatureWindowError } from "./featurize.ts";
