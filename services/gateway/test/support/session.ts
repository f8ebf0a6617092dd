import { signLocalToken } from "../../src/index.ts";
import type { SessionStartResponse } from "@gapfill/contracts";

/** LOCAL_JWT_SECRET for tests that run the gateway in local mode. */
export const LOCAL_SECRET = "test-local-secret-0123456789abcdef0123456789";

export async function localToken(sub: string, ttlSeconds = 3600): Promise<string> {
  const { token } = await signLocalToken(new TextEncoder().encode(LOCAL_SECRET), { sub, ttlSeconds, nowMs: Date.now() });
  return token;
}

/** POST /session/start over real HTTP, so the returned URLs point at the listening gateway. */
export async function startSession(baseUrl: string, token: string, body: object = {}): Promise<SessionStartResponse> {
  const response = await fetch(`${baseUrl}/session/start`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (response.status !== 201) throw new Error(`session/start answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as SessionStartResponse;
}

export async function stopSession(baseUrl: string, token: string, sessionId: string): Promise<Response> {
  return fetch(`${baseUrl}/session/stop`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ session_id: sessionId }),
  });
}
