export { startIngestor, DEFAULT_TUNING, type IngestorDeps, type IngestorTuning, type RunningIngestor } from "./ingestor.ts";
