import { describe, expect, it } from "vitest";
import { demoIsolation } from "../src/demo-isolation.ts";

describe("demoIsolation", () => {
  it("runs the demo in the namespace `demo`, or `<NATS_NAMESPACE>_demo`", () => {
    expect(demoIsolation({}).namespace).toBe("demo");
    expect(demoIsolation({ NATS_NAMESPACE: "" }).namespace).toBe("demo");
    expect(demoIsolation({ NATS_NAMESPACE: "t1" }).namespace).toBe("t1_demo");
  });

  it("leaves out every variable that leads to a real database or Supabase project, and only those set", () => {
    const env = {
      DATABASE_URL: "postgres://db.example/prod",
      SUPABASE_URL: "https://x.supabase.co",
      SUPABASE_API_KEY: "secret",
      SUPABASE_ANON_KEY: "",
      BINANCE_SYMBOL: "BTCUSDT",
    };
    expect(demoIsolation(env).ignored).toEqual(["DATABASE_URL", "SUPABASE_URL", "SUPABASE_API_KEY"]);
    expect(demoIsolation({ BINANCE_SYMBOL: "BTCUSDT" }).ignored).toEqual([]);
  });

  it("keeps the ML jobs off the real bucket and SageMaker: their variables are left out too", () => {
    const env = { LANDING_BUCKET: "prod-landing", AWS_ACCESS_KEY_ID: "AKIA", SAGEMAKER_ROLE_ARN: "arn:aws:iam::123456789012:role/r", ML_MIN_ROWS: "10" };
    expect(demoIsolation(env).ignored).toEqual(["LANDING_BUCKET", "SAGEMAKER_ROLE_ARN", "AWS_ACCESS_KEY_ID"]);
  });

  it("refuses, naming NATS_NAMESPACE, a namespace with no room for the suffix or not valid at all", () => {
    expect(() => demoIsolation({ NATS_NAMESPACE: "x".repeat(28) })).toThrow(/^NATS_NAMESPACE: .*up to 27/);
    expect(() => demoIsolation({ NATS_NAMESPACE: "bad.name" })).toThrow(/^NATS_NAMESPACE: /);
    expect(demoIsolation({ NATS_NAMESPACE: "x".repeat(27) }).namespace).toHaveLength(32);
  });
});
