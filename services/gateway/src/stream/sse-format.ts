import type { ClosedBar, FormingBar, SseEndData, SseLiveData, SsePredictionData } from "@gapfill/contracts";

/**
 * The gap stream's wire format (text/event-stream). Each function returns one complete event, so events can be
 * concatenated into one write and a heartbeat can go between any two of them.
 */
export function barEvent(bar: ClosedBar): string {
  return `event: bar\nid: ${bar.ts}\ndata: ${JSON.stringify(bar)}\n\n`;
}

export function partialEvent(bar: FormingBar): string {
  return `event: partial\ndata: ${JSON.stringify(bar)}\n\n`;
}

export function liveEvent(data: SseLiveData): string {
  return `event: live\ndata: ${JSON.stringify(data)}\n\n`;
}

/** No `id:`: a prediction never moves the resume point, which stays the last bar's ts. */
export function predictionEvent(prediction: SsePredictionData): string {
  return `event: prediction\ndata: ${JSON.stringify(prediction)}\n\n`;
}

export function endEvent(data: SseEndData): string {
  return `event: end\ndata: ${JSON.stringify(data)}\n\n`;
}

/** How long an EventSource waits before reconnecting (with Last-Event-ID) after the connection drops. */
export function retryField(ms: number): string {
  return `retry: ${ms}\n\n`;
}

/** A comment line: keeps proxies and clients from timing out an idle stream; EventSource ignores it. */
export const HEARTBEAT = ": heartbeat\n\n";

export const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache, no-transform",
  connection: "keep-alive",
  // nginx and similar proxies would otherwise buffer the stream.
  "x-accel-buffering": "no",
} as const;
