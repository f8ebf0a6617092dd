/**
 * The soak's findings and their one printed report (Markdown, so it can be pasted into the operations docs as is):
 * the bars checks, every client's series, memory per process, the faults injected and the crashes seen, and a verdict
 * listing every problem; no problem means a clean soak.
 */
import type { ClientStats } from "./clients.ts";
import { FAULT_KINDS, type FaultKind } from "./faults.ts";
import type { InjectedFault } from "./inject.ts";
import type { Crash } from "./processes.ts";
import { clockText, type ClientCheck, type FieldMismatch, type RssRow, type StreamCheck, type TableCheck } from "./verify.ts";

/** A process's memory may grow by at most this much from the baseline to the end. */
export const MAX_RSS_GROWTH = 0.2;

export interface ClientFinding {
  sub: string;
  check: ClientCheck;
  stats: ClientStats;
}

export interface SoakFindings {
  /** When the soak ended, ISO 8601. */
  date: string;
  command: string;
  minutes: number;
  seed: number;
  runDir: string;
  /** Newest bar every check reaches. */
  horizonTs: number;
  stream: StreamCheck;
  /** Messages in the stream that are not bars. */
  undecodable: number;
  table: TableCheck;
  clients: ClientFinding[];
  rss: RssRow[];
  rssBaselineAtMs: number;
  faults: InjectedFault[];
  crashes: Crash[];
  /** Conditions the settle phase waited for in vain, and other failures of the soak itself. */
  notes: string[];
}

const iso = (ts: number | null) => (ts === null ? "–" : new Date(ts).toISOString().slice(11, 19));
const listTs = (list: readonly number[]) => (list.length === 0 ? "" : ` (${list.slice(0, 5).map(iso).join(", ")}${list.length > 5 ? ", …" : ""})`);
const listMismatches = (list: readonly FieldMismatch[]) =>
  list.length === 0 ? "" : ` (${list.slice(0, 3).map((m) => `${iso(m.ts)}: ${m.fields.join(", ")}`).join("; ")}${list.length > 3 ? "; …" : ""})`;
const mib = (bytes: number | undefined) => (bytes === undefined ? "–" : `${(bytes / 2 ** 20).toFixed(0)} MiB`);

export function faultLabel({ kind, target, victim }: { kind: FaultKind; target: number; victim?: string | null }): string {
  switch (kind) {
    case "ws-cut":
      return "WebSocket cut";
    case "rest-429":
      return "REST 429 burst";
    case "rest-418":
      return "REST 418 burst";
    case "nats-node-kill":
      return `NATS node ${victim ?? "(none)"} (bars stream leader) killed`;
    case "ingestor-kill":
      return `ingestor-${target + 1} killed`;
    case "gateway-kill":
      return `gateway-${target + 1} killed`;
    case "database-stop":
      return "database stopped";
  }
}

/** Every reason the soak is not clean; empty when it is. */
export function soakProblems(f: SoakFindings): string[] {
  const problems: string[] = [];
  const count = (what: string, n: number) => n > 0 && problems.push(`${what}: ${n}`);
  count("holes in the stream", f.stream.holes.length);
  count("duplicated bars in the stream", f.stream.dups.length);
  count("stream bars out of order", f.stream.outOfOrder);
  count("stream bars that differ from the simulator's", f.stream.mismatches.length);
  count("stream messages that are not bars", f.undecodable);
  if (f.stream.messages === 0) problems.push("the stream holds no bars");
  count("stream bars missing from price_15s", f.table.missing.length);
  count("price_15s rows not in the stream", f.table.extra.length);
  count("price_15s rows that differ from the stream", f.table.mismatches.length);
  for (const { sub, check, stats } of f.clients) {
    if (!check.contiguous) problems.push(`${sub}: not contiguous (${check.missing} missing, ${check.repeated} repeated)`);
    if (check.mismatches.length > 0) problems.push(`${sub}: ${check.mismatches.length} bars differ from the stream's`);
    if (!check.reachedHorizon) problems.push(`${sub}: stopped at ${iso(check.lastTs)}, short of ${iso(f.horizonTs)}`);
    if (stats.badIds > 0) problems.push(`${sub}: ${stats.badIds} bar events whose id is not the bar's ts`);
  }
  for (const row of f.rss) {
    if (row.growth !== null && row.growth > MAX_RSS_GROWTH) problems.push(`${row.name}: RSS grew ${(row.growth * 100).toFixed(0)}%`);
  }
  for (const crash of f.crashes) problems.push(`${crash.name} exited unasked at ${clockText(crash.atMs)} (${crash.signal ?? `status ${crash.code}`})`);
  for (const fault of f.faults.filter((x) => x.failed)) problems.push(`${faultLabel(fault)} at ${clockText(fault.startedAtMs)}: ${fault.outcome}`);
  problems.push(...f.notes);
  return problems;
}

export function renderReport(f: SoakFindings): string {
  const lines: string[] = [];
  const row = (...cells: (string | number)[]) => lines.push(`| ${cells.join(" | ")} |`);
  const problems = soakProblems(f);
  lines.push(`### Chaos soak, ${f.date}`, "", `\`${f.command}\` (${f.minutes} min, seed ${f.seed}); logs in ${f.runDir}`, "");

  row("check", "result");
  row("---", "---");
  const s = f.stream;
  row(
    "bars on JetStream vs the simulator",
    `${s.messages} bars ${iso(s.firstTs)}–${iso(s.lastTs)} UTC: holes ${s.holes.length}${listTs(s.holes)}, dups ${s.dups.length}${listTs(s.dups)}, ` +
      `out of order ${s.outOfOrder}, mismatches ${s.mismatches.length}${listMismatches(s.mismatches)}`,
  );
  const t = f.table;
  row(
    "rows in price_15s vs the stream",
    `${t.rows} rows: missing ${t.missing.length}${listTs(t.missing)}, extra ${t.extra.length}${listTs(t.extra)}, mismatches ${t.mismatches.length}${listMismatches(t.mismatches)}`,
  );
  const good = f.clients.filter((c) => c.check.contiguous && c.check.mismatches.length === 0 && c.check.reachedHorizon).length;
  const total = (pick: (stats: ClientStats) => number) => f.clients.reduce((n, c) => n + pick(c.stats), 0);
  row(
    "SSE clients",
    `${good}/${f.clients.length} contiguous, equal to the stream and up to ${iso(f.horizonTs)}; ` +
      `${total((x) => x.connections)} streams opened, ${total((x) => x.sessions)} sessions`,
  );
  const judged = f.rss.filter((r) => r.growth !== null);
  const worst = judged.reduce<RssRow | null>((w, r) => (w === null || r.growth! > w.growth! ? r : w), null);
  row(
    `RSS growth from ${clockText(f.rssBaselineAtMs)} to the end`,
    worst ? `largest ${(worst.growth! * 100).toFixed(1)}% (${worst.name}); limit ${MAX_RSS_GROWTH * 100}%` : "nothing judged",
  );
  const byKind = FAULT_KINDS.map((kind) => `${f.faults.filter((x) => x.kind === kind).length} ${kind}`).join(", ");
  row("faults injected", `${f.faults.length}: ${byKind}`);
  row("unasked exits (crashes)", f.crashes.length);
  row("verdict", problems.length === 0 ? "**clean**" : `**${problems.length} problem(s)**`);

  lines.push("", "#### SSE clients", "");
  row("client", "bars", "first–last (UTC)", "missing", "repeated", "mismatches", "streams", "sessions", "ends", "refusals");
  row("---", "---", "---", "---", "---", "---", "---", "---", "---", "---");
  for (const { sub, check, stats } of f.clients) {
    const tally = (counts: Record<string, number>) =>
      Object.entries(counts)
        .map(([key, n]) => `${key} ${n}`)
        .join(", ") || "–";
    row(sub, check.bars, `${iso(check.firstTs)}–${iso(check.lastTs)}`, check.missing, check.repeated, check.mismatches.length, stats.connections, stats.sessions, tally(stats.ends), tally(stats.refusals));
  }

  lines.push("", "#### Memory (RSS)", "");
  row("process", "start", clockText(f.rssBaselineAtMs) + " (baseline)", "end", "growth", "note");
  row("---", "---", "---", "---", "---", "---");
  for (const r of f.rss) {
    const growth = r.growth === null ? "–" : `${r.growth >= 0 ? "+" : ""}${(r.growth * 100).toFixed(1)}%`;
    const baseline = r.baseline ? `${mib(r.baseline.bytes)}${r.baseline.atMs > f.rssBaselineAtMs + 10_000 ? ` at ${clockText(r.baseline.atMs)}` : ""}` : "–";
    row(r.name, mib(r.start?.bytes), baseline, mib(r.end?.bytes), growth, r.note || "–");
  }

  lines.push("", "#### Faults", "");
  row("at", "fault", "planned down", "outcome");
  row("---", "---", "---", "---");
  for (const fault of f.faults) {
    row(clockText(fault.startedAtMs), faultLabel(fault), fault.downMs > 0 ? `${fault.downMs / 1000} s` : "–", fault.outcome);
  }
  for (const crash of f.crashes) row(clockText(crash.atMs), `${crash.name} exited unasked`, "–", crash.signal ?? `status ${crash.code}`);

  if (problems.length > 0) lines.push("", "#### Problems", "", ...problems.map((p) => `- ${p}`));
  return `${lines.join("\n")}\n`;
}
