/**
 * The soak's checks, as pure comparisons of what was observed: the bars stream against the simulator's ground truth,
 * `price_15s` against the stream, each SSE client's series against the stream, and each process's memory over time.
 */
import { BAR_MS, PRICE_COLUMNS, type ClosedBar } from "@gapfill/contracts";

export interface FieldMismatch {
  ts: number;
  /** The fields that differ, or why the bar has no counterpart. */
  fields: string[];
}

/** Fields of `actual` that differ from `expected`; agg ids only where `actual` has them (kline-built bars have none). */
export function differingFields(actual: ClosedBar, expected: ClosedBar, { idsOptional = false } = {}): string[] {
  return PRICE_COLUMNS.filter((field) => {
    if (idsOptional && (field === "first_agg_id" || field === "last_agg_id") && actual.first_agg_id === null) return false;
    return actual[field] !== expected[field];
  });
}

export interface StreamCheck {
  /** Messages read, ts ≤ horizon. */
  messages: number;
  firstTs: number | null;
  lastTs: number | null;
  /** Ground-truth bars from the stream's first bar to the horizon that the stream lacks. */
  holes: number[];
  /** Bars the stream holds more than once. */
  dups: number[];
  /** Messages whose ts is not after the one before (a duplicate included). */
  outOfOrder: number;
  mismatches: FieldMismatch[];
}

/**
 * The stream's messages (in stream order, ts ≤ horizonTs) against the simulator's bars over [first stream bar,
 * horizonTs]: every true bar there once, in order, field for field.
 */
export function checkStreamAgainstTruth(stream: readonly ClosedBar[], truth: readonly ClosedBar[], horizonTs: number): StreamCheck {
  const seen = stream.filter((bar) => bar.ts <= horizonTs);
  const firstTs = seen.length > 0 ? Math.min(...seen.map((bar) => bar.ts)) : null;
  const truthByTs = new Map(truth.map((bar) => [bar.ts, bar]));
  const counts = new Map<number, number>();
  let outOfOrder = 0;
  const mismatches: FieldMismatch[] = [];
  seen.forEach((bar, i) => {
    counts.set(bar.ts, (counts.get(bar.ts) ?? 0) + 1);
    if (i > 0 && bar.ts <= seen[i - 1]!.ts) outOfOrder += 1;
    const expected = truthByTs.get(bar.ts);
    const fields = expected ? differingFields(bar, expected, { idsOptional: true }) : ["not among the simulator's bars"];
    if (fields.length > 0) mismatches.push({ ts: bar.ts, fields });
  });
  const holes = truth.filter((bar) => bar.ts <= horizonTs && (firstTs === null || bar.ts >= firstTs) && !counts.has(bar.ts)).map((bar) => bar.ts);
  return {
    messages: seen.length,
    firstTs,
    lastTs: seen.length > 0 ? Math.max(...seen.map((bar) => bar.ts)) : null,
    holes,
    dups: [...counts].filter(([, n]) => n > 1).map(([ts]) => ts),
    outOfOrder,
    mismatches,
  };
}

/** The bar a consumer of the stream ends up with for each ts: the last message for it. */
export function latestByTs(stream: readonly ClosedBar[]): Map<number, ClosedBar> {
  return new Map(stream.map((bar) => [bar.ts, bar]));
}

export interface TableCheck {
  rows: number;
  /** Stream bars (ts ≤ horizon) with no row. */
  missing: number[];
  /** Rows with no stream bar. */
  extra: number[];
  mismatches: FieldMismatch[];
}

/** `price_15s` rows (ts ≤ horizonTs) against the stream's bars up to the same horizon. */
export function checkTableAgainstStream(rows: readonly ClosedBar[], stream: ReadonlyMap<number, ClosedBar>, horizonTs: number): TableCheck {
  const kept = rows.filter((row) => row.ts <= horizonTs);
  const rowTs = new Set(kept.map((row) => row.ts));
  const mismatches: FieldMismatch[] = [];
  const extra: number[] = [];
  for (const row of kept) {
    const bar = stream.get(row.ts);
    if (!bar) extra.push(row.ts);
    else {
      const fields = differingFields(row, bar);
      if (fields.length > 0) mismatches.push({ ts: row.ts, fields });
    }
  }
  const missing = [...stream.keys()].filter((ts) => ts <= horizonTs && !rowTs.has(ts));
  return { rows: kept.length, missing, extra, mismatches };
}

export interface ClientCheck {
  bars: number;
  firstTs: number | null;
  lastTs: number | null;
  /** Bars skipped between two received ones. */
  missing: number;
  /** Bars received again (a ts not after the one before). */
  repeated: number;
  /** Received bars that differ from the stream's, or that the stream does not have. */
  mismatches: FieldMismatch[];
  /** Whether the series got as far as the horizon. */
  reachedHorizon: boolean;
  contiguous: boolean;
}

/** One client's bars, in arrival order: 15 s steps with neither gap nor repeat, each equal to the stream's bar. */
export function checkClientSeries(received: readonly ClosedBar[], stream: ReadonlyMap<number, ClosedBar>, horizonTs: number): ClientCheck {
  let missing = 0;
  let repeated = 0;
  const mismatches: FieldMismatch[] = [];
  received.forEach((bar, i) => {
    if (i > 0) {
      const step = bar.ts - received[i - 1]!.ts;
      if (step <= 0) repeated += 1;
      else if (step > BAR_MS) missing += step / BAR_MS - 1;
    }
    const expected = stream.get(bar.ts);
    const fields = expected ? differingFields(bar, expected) : ["not in the stream"];
    if (fields.length > 0) mismatches.push({ ts: bar.ts, fields });
  });
  const lastTs = received.at(-1)?.ts ?? null;
  return {
    bars: received.length,
    firstTs: received[0]?.ts ?? null,
    lastTs,
    missing,
    repeated,
    mismatches,
    reachedHorizon: lastTs !== null && lastTs >= horizonTs,
    contiguous: missing === 0 && repeated === 0,
  };
}

export interface RssSample {
  /** Soak clock, ms. */
  atMs: number;
  name: string;
  /** Which start of the process this is (1 = the first). */
  instance: number;
  /** Soak clock time that instance started. */
  startedAtMs: number;
  bytes: number;
}

export interface RssRow {
  name: string;
  /** At the soak's start (the instance then running). */
  start: RssSample | null;
  /** The growth baseline: the current instance at `baselineAtMs` or, if it started later, once warm. */
  baseline: RssSample | null;
  end: RssSample | null;
  /** end / baseline − 1, when judged. */
  growth: number | null;
  /** Why the growth is not judged, or which instance was measured. */
  note: string;
}

export interface RssRules {
  /** Growth is measured from here (minute 2 of the soak) to the end. */
  baselineAtMs: number;
  /** A restarted instance is measured from this long after its start (start-up allocations are not a leak). */
  warmMs: number;
  /** Less than this between baseline and end: not judged. */
  minSpanMs: number;
}

/** Per process: memory at the start, at the baseline and at the end, and the growth in between. */
export function rssRows(samples: readonly RssSample[], rules: RssRules): RssRow[] {
  const names = [...new Set(samples.map((s) => s.name))];
  return names.map((name) => {
    const own = samples.filter((s) => s.name === name).sort((a, b) => a.atMs - b.atMs);
    const start = own.find((s) => s.atMs >= 0) ?? null;
    const end = own.at(-1) ?? null;
    if (!end) return { name, start, baseline: null, end, growth: null, note: "no samples" };
    const restarted = start !== null && end.instance !== start.instance;
    const baseline =
      own.find((s) => s.instance === end.instance && s.atMs >= rules.baselineAtMs && s.atMs - s.startedAtMs >= rules.warmMs) ?? null;
    const instanceNote = restarted ? `instance ${end.instance}, started at ${clockText(end.startedAtMs)}` : "";
    if (!baseline || end.atMs - baseline.atMs < rules.minSpanMs) {
      const why = `less than ${rules.minSpanMs / 1000} s between ${rules.warmMs / 1000} s after its start and the end`;
      return { name, start, baseline, end, growth: null, note: `not judged: ${instanceNote ? `${instanceNote}, ` : ""}${why}` };
    }
    return { name, start, baseline, end, growth: end.bytes / baseline.bytes - 1, note: instanceNote };
  });
}

/** Soak-clock milliseconds as [-]mm:ss. */
export function clockText(ms: number): string {
  const sign = ms < 0 ? "-" : "";
  const seconds = Math.round(Math.abs(ms) / 1000);
  return `${sign}${String(Math.floor(seconds / 60)).padStart(2, "0")}:${String(seconds % 60).padStart(2, "0")}`;
}
