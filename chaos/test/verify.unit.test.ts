import { describe, expect, it } from "vitest";
import { BAR_MS } from "@gapfill/contracts";
import { TEST_SERIES_START, testBars } from "@gapfill/testkit";
import {
  checkClientSeries,
  checkStreamAgainstTruth,
  checkTableAgainstStream,
  clockText,
  latestByTs,
  rssRows,
  type RssSample,
} from "../src/verify.ts";

const truth = testBars("BTCUSDT", TEST_SERIES_START, 40, 5).map((bar) =>
  bar.first_agg_id === null ? { ...bar, first_agg_id: 1, last_agg_id: 1 } : bar,
);
const horizon = truth.at(-1)!.ts;
const ts = (i: number) => TEST_SERIES_START + i * BAR_MS;

describe("checkStreamAgainstTruth", () => {
  it("finds nothing wrong with the true series", () => {
    expect(checkStreamAgainstTruth(truth, truth, horizon)).toEqual({
      messages: 40,
      firstTs: ts(0),
      lastTs: ts(39),
      holes: [],
      dups: [],
      outOfOrder: 0,
      mismatches: [],
    });
  });

  it("counts holes, duplicates, reordering and differing fields; a kline-built bar may lack agg ids", () => {
    const stream = [...truth];
    stream.splice(10, 2); // holes at 10 and 11
    stream.splice(20, 0, truth[25]!); // 25 once too early: out of order, and a duplicate
    stream[3] = { ...truth[3]!, close: truth[3]!.close + 0.01 };
    stream[4] = { ...truth[4]!, first_agg_id: null, last_agg_id: null };
    stream[5] = { ...truth[5]!, last_agg_id: truth[5]!.last_agg_id! + 1 };
    const check = checkStreamAgainstTruth(stream, truth, horizon);
    expect(check.holes).toEqual([ts(10), ts(11)]);
    expect(check.dups).toEqual([ts(25)]);
    expect(check.outOfOrder).toBe(1);
    expect(check.mismatches).toEqual([
      { ts: ts(3), fields: ["close"] },
      { ts: ts(5), fields: ["last_agg_id"] },
    ]);
  });

  it("judges only up to the horizon, and from the stream's first bar", () => {
    const check = checkStreamAgainstTruth(truth.slice(5, 30), truth, ts(29));
    expect(check).toMatchObject({ messages: 25, firstTs: ts(5), lastTs: ts(29), holes: [] });
    expect(checkStreamAgainstTruth(truth.slice(5, 30), truth, ts(35)).holes).toEqual([30, 31, 32, 33, 34, 35].map(ts));
  });

  it("names a bar the simulator never made", () => {
    const foreign = { ...truth[0]!, ts: ts(100) };
    expect(checkStreamAgainstTruth([...truth, foreign], truth, ts(100)).mismatches).toEqual([
      { ts: ts(100), fields: ["not among the simulator's bars"] },
    ]);
  });
});

describe("checkTableAgainstStream", () => {
  const stream = latestByTs(truth);

  it("finds missing rows, rows the stream lacks and rows that differ, up to the horizon", () => {
    const rows = truth.filter((_, i) => i !== 7).map((bar, i) => (i === 2 ? { ...bar, volume: bar.volume + 1 } : bar));
    rows.push({ ...truth[0]!, ts: ts(45) });
    expect(checkTableAgainstStream(rows, stream, ts(50))).toEqual({
      rows: 40,
      missing: [ts(7)],
      extra: [ts(45)],
      mismatches: [{ ts: ts(2), fields: ["volume"] }],
    });
    expect(checkTableAgainstStream(truth.slice(0, 20), stream, ts(19))).toEqual({ rows: 20, missing: [], extra: [], mismatches: [] });
  });

  it("takes the last message for a bar as the stream's", () => {
    const corrected = { ...truth[3]!, high: truth[3]!.high + 1 };
    expect(latestByTs([...truth, corrected]).get(ts(3))).toEqual(corrected);
  });
});

describe("checkClientSeries", () => {
  const stream = latestByTs(truth);

  it("accepts a contiguous series equal to the stream that reaches the horizon", () => {
    expect(checkClientSeries(truth.slice(12), stream, horizon)).toEqual({
      bars: 28,
      firstTs: ts(12),
      lastTs: ts(39),
      missing: 0,
      repeated: 0,
      mismatches: [],
      reachedHorizon: true,
      contiguous: true,
    });
  });

  it("counts skipped and repeated bars, differences, and a series that stops short", () => {
    const series = [...truth.slice(0, 10), ...truth.slice(13, 20), truth[19]!, truth[18]!, { ...truth[20]!, open: 1 }];
    const check = checkClientSeries(series, stream, horizon);
    expect(check).toMatchObject({ missing: 4, repeated: 2, reachedHorizon: false, contiguous: false });
    expect(check.mismatches).toEqual([{ ts: ts(20), fields: ["open"] }]);
  });

  it("names a bar the stream does not have", () => {
    expect(checkClientSeries([{ ...truth[0]!, ts: ts(99) }], stream, horizon).mismatches).toEqual([{ ts: ts(99), fields: ["not in the stream"] }]);
  });
});

describe("rssRows", () => {
  const rules = { baselineAtMs: 120_000, warmMs: 30_000, minSpanMs: 30_000 };
  const sample = (name: string, atMs: number, bytes: number, instance = 1, startedAtMs = -20_000): RssSample => ({ name, atMs, bytes, instance, startedAtMs });

  it("measures the growth from the baseline to the end", () => {
    const [row] = rssRows([sample("a", -5000, 90), sample("a", 0, 100), sample("a", 115_000, 150), sample("a", 120_000, 200), sample("a", 600_000, 230)], rules);
    expect(row).toMatchObject({ name: "a", start: { bytes: 100 }, baseline: { bytes: 200, atMs: 120_000 }, end: { bytes: 230 }, note: "" });
    expect(row!.growth).toBeCloseTo(0.15);
  });

  it("measures a restarted process from once its new instance is warm, and says so", () => {
    const samples = [sample("g", 0, 100), sample("g", 200_000, 120), sample("g", 300_000, 80, 2, 290_000), sample("g", 320_000, 90, 2, 290_000), sample("g", 600_000, 99, 2, 290_000)];
    const [row] = rssRows(samples, rules);
    expect(row).toMatchObject({ baseline: { bytes: 90, atMs: 320_000 }, end: { bytes: 99 }, note: "instance 2, started at 04:50" });
    expect(row!.growth).toBeCloseTo(0.1);
  });

  it("does not judge an instance started too late to be measured", () => {
    const [row] = rssRows([sample("n", 0, 100), sample("n", 580_000, 50, 2, 570_000), sample("n", 600_000, 60, 2, 570_000)], rules);
    expect(row!.growth).toBeNull();
    expect(row!.note).toMatch(/^not judged: instance 2, started at 09:30/);
  });
});

it("clockText shows soak time as mm:ss", () => {
  expect([clockText(0), clockText(61_400), clockText(-15_000), clockText(3_600_000)]).toEqual(["00:00", "01:01", "-00:15", "60:00"]);
});
