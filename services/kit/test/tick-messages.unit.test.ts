import { describe, expect, it } from "vitest";
import { natsNames, type TickEvent } from "@gapfill/contracts";
import { decodeTickMessage } from "../src/index.ts";

const encode = (value: unknown) => new TextEncoder().encode(typeof value === "string" ? value : JSON.stringify(value));
const names = natsNames("t1");

describe("decodeTickMessage", () => {
  const tick: TickEvent = { kind: "retrain", window_start: 1_700_000_000_000 - (1_700_000_000_000 % 3_600_000), interval_s: 3600 };

  it("accepts a tick published on its own kind's subject, with or without a namespace", () => {
    expect(decodeTickMessage(names.subjects.tick("retrain"), encode(tick))).toEqual({ ok: true, tick });
    expect(decodeTickMessage(natsNames("").subjects.tick("retrain"), encode(tick))).toEqual({ ok: true, tick });
  });

  it("says why a message is not a tick", () => {
    const subject = names.subjects.tick("retrain");
    expect(decodeTickMessage(subject, encode("{nope"))).toMatchObject({ ok: false, reason: expect.stringMatching(/^not JSON/) });
    expect(decodeTickMessage(subject, new Uint8Array([0xff]))).toMatchObject({ ok: false, reason: expect.stringMatching(/^not JSON/) });
    expect(decodeTickMessage(subject, encode({ ...tick, window_start: tick.window_start + 1 }))).toEqual({
      ok: false,
      reason: "window_start: must be a multiple of interval_s (epoch ms)",
    });
    expect(decodeTickMessage(subject, encode({ ...tick, kind: "deploy" }))).toMatchObject({ ok: false, reason: expect.stringMatching(/^kind:/) });
    expect(decodeTickMessage(subject, encode({ ...tick, extra: 1 }))).toMatchObject({ ok: false });
    expect(decodeTickMessage(names.subjects.tick("infer"), encode(tick))).toEqual({ ok: false, reason: "a retrain tick published on t1.ml.tick.infer" });
  });
});
