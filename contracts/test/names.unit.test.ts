import { describe, expect, it } from "vitest";
import { natsNames, symbolOfSubject } from "../src/index.ts";

describe("NATS names", () => {
  it("without a namespace uses the bare names", () => {
    const names = natsNames();
    expect(names.streams).toEqual({ bars: "BARS", mlTicks: "ML_TICKS", mlEvents: "ML_EVENTS" });
    expect(names.buckets.sessions).toBe("sessions");
    expect(names.subjects.bars("BTCUSDT")).toBe("bars.15s.BTCUSDT");
    expect(names.subjects.live("BTCUSDT")).toBe("live.15s.BTCUSDT");
    expect(names.subjects.tick("retrain")).toBe("ml.tick.retrain");
    expect(names.subjects.modelPublished).toBe("ml.model.published");
    expect(names.subjects.predictions("BTCUSDT")).toBe("ml.predictions.BTCUSDT");
  });

  it("prefixes every name with the namespace", () => {
    const names = natsNames("t1");
    expect(names.streams).toEqual({ bars: "t1_BARS", mlTicks: "t1_ML_TICKS", mlEvents: "t1_ML_EVENTS" });
    expect(names.buckets.sessions).toBe("t1_sessions");
    expect(names.subjects.bars("BTCUSDT")).toBe("t1.bars.15s.BTCUSDT");
    expect(names.subjects.allBars).toBe("t1.bars.15s.*");
    expect(names.subjects.live("BTCUSDT")).toBe("t1.live.15s.BTCUSDT");
    expect(names.subjects.tick("infer")).toBe("t1.ml.tick.infer");
    expect(names.subjects.modelPublished).toBe("t1.ml.model.published");
    expect(symbolOfSubject(names.subjects.bars("ETHUSDT"))).toBe("ETHUSDT");
  });

  it("refuses a namespace that is not a single safe token", () => {
    for (const bad of ["a.b", "a b", "a*", ">", "ü", "x".repeat(33)]) {
      expect(() => natsNames(bad)).toThrow(/NATS namespace must match/);
    }
  });
});
