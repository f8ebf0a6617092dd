import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from "jose";

/** A signing key of the fake Supabase project, with the JWK it publishes. */
export interface ProjectKey {
  kid: string;
  alg: "ES256" | "RS256";
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function newProjectKey(alg: "ES256" | "RS256", kid: string): Promise<ProjectKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
}

/**
 * A loopback stand-in for a Supabase project's auth server: it serves the JWKS at the real path
 * (`/auth/v1/.well-known/jwks.json`) and counts fetches, so tests can rotate keys and see the gateway refetch.
 */
export class FakeSupabaseAuth {
  private keys: ProjectKey[] = [];
  fetches = 0;
  private readonly server: Server;

  private constructor(server: Server) {
    this.server = server;
  }

  static async start(): Promise<FakeSupabaseAuth> {
    let self: FakeSupabaseAuth | null = null;
    const server = createServer((req, res) => {
      if (req.url === "/auth/v1/.well-known/jwks.json" && self) {
        self.fetches++;
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: self.keys.map((k) => k.publicJwk) }));
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    self = new FakeSupabaseAuth(server);
    return self;
  }

  /** SUPABASE_URL of the fake project. */
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  get issuer(): string {
    return `${this.url}/auth/v1`;
  }

  publish(...keys: ProjectKey[]): void {
    this.keys = keys;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

export interface TokenClaims extends JWTPayload {
  sub?: string;
}

/** A Supabase-shaped access token: iss, aud=authenticated, sub, iat and a one-hour exp unless overridden. */
export async function signToken(
  key: { alg: "ES256" | "RS256" | "HS256"; kid?: string; secret: CryptoKey | Uint8Array },
  claims: TokenClaims,
  { issuer, nowSeconds = Math.floor(Date.now() / 1000) }: { issuer: string; nowSeconds?: number },
): Promise<string> {
  return new SignJWT({ role: "authenticated", aud: "authenticated", iss: issuer, iat: nowSeconds, exp: nowSeconds + 3600, ...claims })
    .setProtectedHeader({ alg: key.alg, typ: "JWT", ...(key.kid ? { kid: key.kid } : {}) })
    .sign(key.secret);
}
