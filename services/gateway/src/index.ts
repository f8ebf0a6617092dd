export { buildApp, type GatewayDeps } from "./app.ts";
export { DEFAULT_TUNING, type GatewayTuning } from "./context.ts";
export { createTokenVerifier, LOCAL_ISSUER, SUPABASE_AUDIENCE, type TokenVerifier } from "./auth.ts";
export { loadLocalSecret, signLocalToken } from "./local-mode.ts";
export { decodeCursor, encodeCursor, type PageCursor } from "./cursor.ts";
