import { describe, expect, it } from "vitest";
import {
  embedderConfigSchema,
  gatewayConfigSchema,
  ingestorConfigSchema,
  mlRunnerConfigSchema,
  objectStoreConfigSchema,
  provisionConfigSchema,
  recorderConfigSchema,
  schedulerConfigSchema,
} from "@gapfill/contracts";
import { ConfigError, loadConfig, redactUrlCredentials } from "../src/index.ts";

function problemsOf(run: () => unknown): { variable: string; message: string }[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("config loading", () => {
  it("applies the original system's defaults when the environment is empty", () => {
    const gateway = loadConfig(gatewayConfigSchema, "gateway", {});
    expect(gateway).toMatchObject({
      NATS_URL: "nats://127.0.0.1:4222",
      NATS_NAMESPACE: "",
      LOG_LEVEL: "info",
      BINANCE_SYMBOL: ["BTCUSDT"],
      PORT: 8000,
      BOOTSTRAP_PAGE_LIMIT: 5000,
      GAP_STREAM_MAX_MINUTES: 15,
      CORS_ORIGINS: [],
    });
    expect(loadConfig(provisionConfigSchema, "provision", {})).toMatchObject({ SESSION_TTL_SECONDS: 1800, BARS_MAX_AGE_HOURS: 168, JETSTREAM_REPLICAS: 1 });
    expect(gateway.DATABASE_URL).toBeUndefined();
    const ingestor = loadConfig(ingestorConfigSchema, "ingestor", {});
    expect(ingestor).toMatchObject({
      GAP_STREAM_SLEEP_SECONDS: 1.5,
      INGEST_BACKFILL_HOURS: 24,
      BAR_CLOSE_GRACE_MS: 1000,
      BINANCE_REST_URL: "https://data-api.binance.vision",
      BINANCE_WS_URL: "wss://data-stream.binance.vision",
    });
    expect(loadConfig(schedulerConfigSchema, "scheduler", {})).toMatchObject({
      ML_INTERVAL_SECONDS: 3600,
      INFER_INTERVAL_SECONDS: 600,
      SCHEDULER_METRICS_PORT: 9104,
    });
    expect(loadConfig(embedderConfigSchema, "embedder", {})).toMatchObject({
      EMBEDDER: true,
      EMBED_EVERY_BARS: 4,
      EMBED_WINDOW_BARS: 240,
      EMBEDDER_METRICS_PORT: 9105,
      METRICS_HOST: "127.0.0.1",
    });
    expect(loadConfig(mlRunnerConfigSchema, "ml-runner", {})).toMatchObject({
      LANDING_BUCKET: "ybigta-mlops-landing-zone-324037321745",
      TRAIN_PREFIX: "train",
      MODEL_PREFIX: "model",
      SM_TRAIN_INSTANCE: "ml.g4dn.xlarge",
      SM_FRAMEWORK_VERSION: "2.2",
      OBJECT_STORE: "auto",
      AWS_REGION: "us-east-1",
      DATA_DIR: ".data",
    });
    const objects = loadConfig(objectStoreConfigSchema, "ml-infer", {});
    expect(objects).toMatchObject({ OBJECT_STORE: "auto", LANDING_BUCKET: "ybigta-mlops-landing-zone-324037321745", AWS_REGION: "us-east-1" });
    expect(objects.S3_ENDPOINT).toBeUndefined();
    expect(objects.OBJECT_STORE_DIR).toBeUndefined();
  });

  it("parses lists, numbers and URLs; an empty value keeps the default", () => {
    const config = loadConfig(gatewayConfigSchema, "gateway", {
      BINANCE_SYMBOL: "btcusdt, ETHUSDT,,BTCUSDT",
      PORT: "0",
      GAP_STREAM_MAX_MINUTES: "0.5",
      CORS_ORIGINS: "https://a.example, http://localhost:5173",
      DATABASE_URL: "postgres://u@127.0.0.1:5432/test",
      PUBLIC_BASE_URL: "https://api.example/",
      NATS_NAMESPACE: "",
    });
    expect(config.BINANCE_SYMBOL).toEqual(["BTCUSDT", "ETHUSDT"]);
    expect(config.PORT).toBe(0);
    expect(config.GAP_STREAM_MAX_MINUTES).toBe(0.5);
    expect(config.CORS_ORIGINS).toEqual(["https://a.example", "http://localhost:5173"]);
    expect(config.PUBLIC_BASE_URL).toBe("https://api.example");
    expect(config.NATS_NAMESPACE).toBe("");
  });

  it.each([
    ["BOOTSTRAP_PAGE_LIMIT", "abc", gatewayConfigSchema, /expected an integer from 1 to 100000 \(got "abc"\)/],
    ["BOOTSTRAP_PAGE_LIMIT", "0", gatewayConfigSchema, /expected an integer from 1/],
    ["PORT", "70000", gatewayConfigSchema, /expected an integer from 0 to 65535/],
    ["GAP_STREAM_MAX_MINUTES", "soon", gatewayConfigSchema, /expected a number/],
    ["SESSION_TTL_SECONDS", "1.5", provisionConfigSchema, /expected an integer/],
    ["NATS_URL", "http://x y", gatewayConfigSchema, /expected nats:\/\/host:port/],
    ["NATS_NAMESPACE", "a.b", gatewayConfigSchema, /expected up to 32 letters/],
    ["LOG_LEVEL", "loud", gatewayConfigSchema, /expected one of fatal/],
    ["BINANCE_SYMBOL", "BTC-USDT", gatewayConfigSchema, /expected symbols like BTCUSDT/],
    ["DATABASE_URL", "mysql://x", gatewayConfigSchema, /expected an absolute postgres\/postgresql URL/],
    ["SUPABASE_URL", "not a url", gatewayConfigSchema, /expected an absolute http\/https URL/],
    ["CORS_ORIGINS", "example.com", gatewayConfigSchema, /expected origins like/],
    ["DATABASE_PREPARE", "maybe", recorderConfigSchema, /expected true or false/],
    ["RECORDER_BATCH_SIZE", "-5", recorderConfigSchema, /expected an integer from 1/],
    ["GAP_STREAM_SLEEP_SECONDS", "0", ingestorConfigSchema, /expected a number from 0.1 to 60/],
    ["BINANCE_WS_URL", "https://stream.binance.com", ingestorConfigSchema, /expected an absolute ws\/wss URL/],
    ["INGEST_BACKFILL_HOURS", "-1", ingestorConfigSchema, /expected a number from 0/],
    ["SAGEMAKER_ROLE_ARN", "role", mlRunnerConfigSchema, /expected an IAM role ARN/],
    ["OBJECT_STORE", "minio", objectStoreConfigSchema, /expected auto, s3 or local \(got "minio"\)/],
    ["LANDING_BUCKET", "My_Bucket", mlRunnerConfigSchema, /expected an S3 bucket name/],
    ["AWS_REGION", "virginia", objectStoreConfigSchema, /expected an AWS region like us-east-1/],
    ["S3_ENDPOINT", "127.0.0.1:9000", objectStoreConfigSchema, /expected an absolute http\/https URL/],
    ["INFER_INTERVAL_SECONDS", "0", schedulerConfigSchema, /expected an integer from 1 to 604800/],
    ["EMBEDDER", "maybe", embedderConfigSchema, /expected true or false/],
    ["EMBED_EVERY_BARS", "0", embedderConfigSchema, /expected an integer from 1 to 5760/],
    ["EMBED_WINDOW_BARS", "a day", embedderConfigSchema, /expected an integer from 1 to 5760/],
  ] as const)("%s=%j is refused with a message naming it", (variable, value, schema, message) => {
    const problems = problemsOf(() => loadConfig(schema, "svc", { [variable]: value }));
    expect(problems).toHaveLength(1);
    expect(problems[0]!.variable).toBe(variable);
    expect(problems[0]!.message).toMatch(message);
  });

  it("refuses an embedder that cannot write its store, unless it is off and opens none", () => {
    const readOnly = { SUPABASE_URL: "https://p.supabase.co", SUPABASE_API_KEY: "sb_publishable_x" };
    expect(problemsOf(() => loadConfig(embedderConfigSchema, "embedder", readOnly)).map((p) => p.variable)).toEqual(["SUPABASE_API_KEY"]);
    expect(loadConfig(embedderConfigSchema, "embedder", { ...readOnly, EMBEDDER: "off" }).EMBEDDER).toBe(false);
    expect(loadConfig(embedderConfigSchema, "embedder", { EMBEDDER: "on" }).EMBEDDER).toBe(true);
  });

  it("reports every bad variable at once, and never echoes a secret", () => {
    try {
      loadConfig(gatewayConfigSchema, "gateway", { PORT: "x", SUPABASE_JWT_SECRET: "short", LOG_LEVEL: "loud" });
      expect.unreachable("config should have been refused");
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const message = (error as Error).message;
      expect(message).toMatch(/^gateway: invalid configuration/);
      expect(message).toMatch(/PORT: /);
      expect(message).toMatch(/LOG_LEVEL: /);
      expect(message).toMatch(/SUPABASE_JWT_SECRET: .*\(got "\*\*\*"\)/);
      expect(message).not.toContain("short");
    }
  });

  it("hides the credentials of a URL it quotes back", () => {
    const problems = problemsOf(() =>
      loadConfig(gatewayConfigSchema, "gateway", { DATABASE_URL: "postgresql+asyncpg://app:S3cretPw@db.example:5432/prod" }),
    );
    expect(problems[0]!.variable).toBe("DATABASE_URL");
    expect(problems[0]!.message).toContain('(got "postgresql+asyncpg://***@db.example:5432/prod")');
    expect(problems[0]!.message).not.toContain("S3cretPw");
  });
});

describe("redactUrlCredentials", () => {
  it("hides user-info in every URL of a text and leaves the rest alone", () => {
    expect(redactUrlCredentials("nats://tok3n@a:4222,nats://u:p@b:4222")).toBe("nats://***@a:4222,nats://***@b:4222");
    expect(redactUrlCredentials("postgres://postgres@127.0.0.1:5432/test")).toBe("postgres://***@127.0.0.1:5432/test");
    expect(redactUrlCredentials("nats://127.0.0.1:4222 and user@example.com")).toBe("nats://127.0.0.1:4222 and user@example.com");
  });
});
