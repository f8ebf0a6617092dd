export { ingestorService } from "./service.ts";
export { startIngestor, type IngestorDeps, type IngestorTuning, type RunningIngestor } from "./ingestor.ts";
