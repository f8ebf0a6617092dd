import { describe, expect, it } from "vitest";
import { renderReport, soakProblems, type SoakFindings } from "../src/report.ts";

const T0 = Date.UTC(2026, 0, 1, 12);
const clean: SoakFindings = {
  date: "2026-01-01T12:10:00.000Z",
  command: "CHAOS_MINUTES=10 CHAOS_SEED=1 npm run chaos",
  minutes: 10,
  seed: 1,
  runDir: "/tmp/run",
  horizonTs: T0,
  stream: { messages: 280, firstTs: T0 - 279 * 15_000, lastTs: T0, holes: [], dups: [], outOfOrder: 0, mismatches: [] },
  undecodable: 0,
  table: { rows: 280, missing: [], extra: [], mismatches: [] },
  clients: [
    {
      sub: "chaos-client-1",
      check: { bars: 50, firstTs: T0 - 49 * 15_000, lastTs: T0, missing: 0, repeated: 0, mismatches: [], reachedHorizon: true, contiguous: true },
      stats: { connections: 9, sessions: 4, ends: { max_duration: 4, expired: 3 }, refusals: { 500: 2 }, badIds: 0 },
    },
  ],
  rss: [
    {
      name: "gateway-1",
      start: { atMs: 0, name: "gateway-1", instance: 1, startedAtMs: -10_000, bytes: 150 * 2 ** 20 },
      baseline: { atMs: 120_000, name: "gateway-1", instance: 1, startedAtMs: -10_000, bytes: 100 * 2 ** 20 },
      end: { atMs: 600_000, name: "gateway-1", instance: 1, startedAtMs: -10_000, bytes: 110 * 2 ** 20 },
      growth: 0.1,
      note: "",
    },
  ],
  rssBaselineAtMs: 120_000,
  faults: [{ kind: "gateway-kill", atMs: 60_000, downMs: 3000, target: 0, startedAtMs: 60_010, victim: "gateway-1", outcome: "SIGKILL; down 3.0 s", failed: false }],
  crashes: [],
  notes: [],
};

describe("soakProblems", () => {
  it("finds none in a clean soak", () => {
    expect(soakProblems(clean)).toEqual([]);
  });

  it("lists every loss, difference, crash, failed fault, memory growth and settle failure", () => {
    const problems = soakProblems({
      ...clean,
      stream: { ...clean.stream, holes: [T0 - 15_000], dups: [T0] },
      table: { ...clean.table, missing: [T0] },
      clients: [{ ...clean.clients[0]!, check: { ...clean.clients[0]!.check, missing: 2, contiguous: false, reachedHorizon: false, lastTs: T0 - 30_000 } }],
      rss: [{ ...clean.rss[0]!, growth: 0.25 }],
      faults: [{ ...clean.faults[0]!, failed: true, outcome: "SIGKILL; NOT ready within 120.0 s" }],
      crashes: [{ name: "recorder", atMs: 200_000, code: 1, signal: null }],
      notes: ["timed out after 90000 ms waiting for every SSE client to reach the horizon"],
    });
    expect(problems).toEqual([
      "holes in the stream: 1",
      "duplicated bars in the stream: 1",
      "stream bars missing from price_15s: 1",
      "chaos-client-1: not contiguous (2 missing, 0 repeated)",
      "chaos-client-1: stopped at 11:59:30, short of 12:00:00",
      "gateway-1: RSS grew 25%",
      "recorder exited unasked at 03:20 (status 1)",
      "gateway-1 killed at 01:00: SIGKILL; NOT ready within 120.0 s",
      "timed out after 90000 ms waiting for every SSE client to reach the horizon",
    ]);
  });
});

it("renders the checks, the clients, memory and faults as Markdown tables with the verdict", () => {
  const report = renderReport(clean);
  expect(report).toContain("`CHAOS_MINUTES=10 CHAOS_SEED=1 npm run chaos` (10 min, seed 1)");
  expect(report).toContain("| bars on JetStream vs the simulator | 280 bars 10:50:15–12:00:00 UTC: holes 0, dups 0, out of order 0, mismatches 0 |");
  expect(report).toContain("| chaos-client-1 | 50 | 11:47:45–12:00:00 | 0 | 0 | 0 | 9 | 4 | max_duration 4, expired 3 | 500 2 |");
  expect(report).toContain("| gateway-1 | 150 MiB | 100 MiB | 110 MiB | +10.0% | – |");
  expect(report).toContain("| 01:00 | gateway-1 killed | 3 s | SIGKILL; down 3.0 s |");
  expect(report).toContain("| verdict | **clean** |");
  expect(report).not.toContain("#### Problems");
});
