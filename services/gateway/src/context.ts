import type { GatewayConfig } from "@gapfill/contracts";
import type { BarStore, Logger, PredictionStore } from "@gapfill/kit";
import type { GatewayAuth } from "./auth-setup.ts";
import type { GatewayMetrics } from "./metrics.ts";
import type { BootstrapPages } from "./pages/bootstrap-pages.ts";
import type { SeamReader } from "./seam.ts";
import type { SessionRegistry } from "./sessions.ts";
import type { GapStreamLimits } from "./stream/gap-stream.ts";
import type { Hub } from "./stream/hub.ts";

/** What the gateway reads: bars, and the prediction history of `GET /predictions`. */
export type GatewayStore = BarStore & Pick<PredictionStore, "newestPrediction" | "predictionsSince">;

/** Knobs that are not environment settings: tests shorten them, production keeps the defaults. */
export interface GatewayTuning extends Omit<GapStreamLimits, "maxLiveMs"> {
  heartbeatMs: number;
  /** jose's JWKS cooldown: after a fetch, an unknown `kid` does not trigger another fetch for this long. */
  jwksCooldownMs: number;
}

export const DEFAULT_TUNING: GatewayTuning = {
  heartbeatMs: 15_000,
  retryMs: 3_000,
  maxBufferedBytes: 512 * 1024,
  stallMs: 30_000,
  replayChunkBars: 1_000,
  jwksCooldownMs: 30_000,
};

/** What the route plugins share; built once by buildApp. */
export interface GatewayContext {
  config: GatewayConfig;
  log: Logger;
  store: GatewayStore;
  sessions: SessionRegistry;
  hub: Hub;
  auth: GatewayAuth;
  metrics: GatewayMetrics;
  now: () => number;
  tuning: GatewayTuning;
  /** HMAC key of bootstrap cursors; the same on every replica of a deployment. */
  cursorKey: Uint8Array;
  pages: BootstrapPages;
  seams: SeamReader;
}
