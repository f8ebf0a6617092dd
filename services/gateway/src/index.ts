export { buildApp, type GatewayDeps } from "./app.ts";
export { gatewayService } from "./service.ts";
export { DEFAULT_TUNING, type GatewayStore, type GatewayTuning } from "./context.ts";
export { signLocalToken } from "./local-mode.ts";
