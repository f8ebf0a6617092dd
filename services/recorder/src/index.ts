export { startRecorder, DEFAULT_TUNING, type RecorderDeps, type RecorderTuning, type RunningRecorder } from "./recorder.ts";
export { recorderService } from "./service.ts";
export { RECORDER_DURABLE } from "./consumer.ts";
export type { SymbolLag } from "./lag.ts";
