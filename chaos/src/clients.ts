/**
 * SSE clients as a browser tab would be: a token from `POST /dev/token`, `POST /session/start`, then the gap stream,
 * recording every `event: bar`. Whenever the stream closes — an `end` event, a cut connection, a refusal — the client
 * connects again, to the other gateway each time, resuming with `Last-Event-ID` = the last bar's id; when its session
 * has ended (expired, stopped, unknown) it starts a new one and asks for the bars after its last one with `from_ts`.
 */
import { request } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import type { ClosedBar, SessionStartResponse } from "@gapfill/contracts";

export interface SseEvent {
  event: string;
  data: string;
  id: string | null;
}

/** Splits an event stream into events, chunk by chunk (a chunk may end anywhere, even inside a line). */
export class SseParser {
  private buffer = "";

  feed(chunk: string): SseEvent[] {
    this.buffer += chunk;
    const events: SseEvent[] = [];
    let boundary: number;
    while ((boundary = this.buffer.indexOf("\n\n")) >= 0) {
      const block = this.buffer.slice(0, boundary);
      this.buffer = this.buffer.slice(boundary + 2);
      const event: SseEvent = { event: "message", data: "", id: null };
      let hasData = false;
      for (const line of block.split("\n")) {
        const colon = line.indexOf(":");
        if (colon === 0) continue;
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event.event = value;
        else if (field === "id") event.id = value;
        else if (field === "data") {
          event.data += hasData ? `\n${value}` : value;
          hasData = true;
        }
      }
      if (hasData) events.push(event);
    }
    return events;
  }
}

export interface ClientStats {
  /** Streams opened (the first included). */
  connections: number;
  sessions: number;
  /** `event: end` reasons seen, and how often. */
  ends: Record<string, number>;
  /** Non-200 answers and network errors, by status or "network". */
  refusals: Record<string, number>;
  /** Bar events whose id was not the bar's ts. */
  badIds: number;
}

type StreamOutcome = { kind: "end"; reason: string } | { kind: "closed"; barsSeen: number } | { kind: "refused"; status: number } | { kind: "error" };

/** Session ends after which the session cannot be used again. */
const SESSION_OVER = new Set(["expired", "stopped"]);

export interface SseClientOptions {
  /** The user (token `sub`) the client acts for. */
  sub: string;
  /** Base URLs of the gateways, tried in turn. */
  gateways: readonly string[];
  /** The gateway of the first attempt. */
  firstGateway: number;
  /** Uniform in [0, 1): the retry jitter. */
  random: () => number;
  /** The first stream asks for the bars after this one (as a client that bootstrapped up to it); null: the seam. */
  fromTs: number | null;
  /** Waits this long before its first request, so sessions start (and expire) at different times. */
  startDelayMs: number;
}

export class SseClient {
  /** Every bar event, in arrival order. */
  readonly bars: ClosedBar[] = [];
  readonly stats: ClientStats = { connections: 0, sessions: 0, ends: {}, refusals: {}, badIds: 0 };
  readonly sub: string;
  private readonly abort = new AbortController();
  private running: Promise<void> | null = null;
  private token: string | null = null;
  private session: SessionStartResponse | null = null;
  /** A new session asks for the bars after the last one with from_ts; a resumed one with Last-Event-ID. */
  private freshSession = false;
  private attempt: number;

  private readonly options: SseClientOptions;

  constructor(options: SseClientOptions) {
    this.options = options;
    this.sub = options.sub;
    this.attempt = options.firstGateway;
  }

  get lastTs(): number | null {
    return this.bars.at(-1)?.ts ?? null;
  }

  start(): void {
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  private async loop(): Promise<void> {
    const { gateways, random, startDelayMs } = this.options;
    await sleep(startDelayMs, undefined, { signal: this.abort.signal }).catch(() => undefined);
    let failures = 0;
    while (!this.abort.signal.aborted) {
      const base = gateways[this.attempt++ % gateways.length]!;
      let outcome: StreamOutcome;
      try {
        outcome = await this.connect(base);
      } catch {
        outcome = { kind: "error" };
      }
      if (outcome.kind === "end") this.stats.ends[outcome.reason] = (this.stats.ends[outcome.reason] ?? 0) + 1;
      if (outcome.kind === "refused") this.stats.refusals[outcome.status] = (this.stats.refusals[outcome.status] ?? 0) + 1;
      if (outcome.kind === "error") this.stats.refusals.network = (this.stats.refusals.network ?? 0) + 1;
      if ((outcome.kind === "end" && SESSION_OVER.has(outcome.reason)) || (outcome.kind === "refused" && [404, 410].includes(outcome.status))) {
        this.session = null;
      }
      if (outcome.kind === "refused" && outcome.status === 401) this.token = null;
      const healthy = outcome.kind === "end" || (outcome.kind === "closed" && outcome.barsSeen > 0);
      failures = healthy ? 0 : failures + 1;
      // An ended stream is resumed at once (as EventSource does after `retry:`); failures back off, jittered.
      const delayMs = failures === 0 ? 250 : Math.min(3000, 250 * 2 ** (failures - 1)) * (0.5 + random() / 2);
      await sleep(delayMs, undefined, { signal: this.abort.signal }).catch(() => undefined);
    }
  }

  /** One attempt on one gateway: a token and a session if needed, then the stream until it closes. */
  private async connect(base: string): Promise<StreamOutcome> {
    const { signal } = this.abort;
    if (!this.token) {
      const response = await fetch(`${base}/dev/token`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ sub: this.options.sub }),
        signal,
      });
      if (response.status !== 200) {
        await response.body?.cancel();
        return { kind: "refused", status: response.status };
      }
      this.token = ((await response.json()) as { access_token: string }).access_token;
    }
    if (!this.session) {
      const response = await fetch(`${base}/session/start`, {
        method: "POST",
        headers: { authorization: `Bearer ${this.token}`, "content-type": "application/json" },
        body: "{}",
        signal,
      });
      if (response.status !== 201) {
        await response.body?.cancel();
        return { kind: "refused", status: response.status };
      }
      this.session = (await response.json()) as SessionStartResponse;
      this.freshSession = true;
      this.stats.sessions += 1;
    }
    const last = this.lastTs;
    const query = new URLSearchParams({ session_id: this.session.session_id });
    const headers: Record<string, string> = { accept: "text/event-stream" };
    if (last === null) {
      if (this.options.fromTs !== null) query.set("from_ts", String(this.options.fromTs));
    } else if (this.freshSession) query.set("from_ts", String(last));
    else headers["last-event-id"] = String(last);
    this.stats.connections += 1;
    const outcome = await this.follow(`${base}/stream/gap?${query}`, headers);
    if (outcome.kind !== "refused") this.freshSession = false;
    return outcome;
  }

  private follow(url: string, headers: Record<string, string>): Promise<StreamOutcome> {
    return new Promise((resolve) => {
      const req = request(url, { headers, signal: this.abort.signal }, (res) => {
        const status = res.statusCode ?? 0;
        if (status !== 200) {
          res.resume();
          res.once("end", () => resolve({ kind: "refused", status }));
          res.once("error", () => resolve({ kind: "refused", status }));
          return;
        }
        const parser = new SseParser();
        let endReason: string | null = null;
        let barsSeen = 0;
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          for (const event of parser.feed(chunk)) {
            if (event.event === "bar") {
              const bar = JSON.parse(event.data) as ClosedBar;
              if (event.id !== String(bar.ts)) this.stats.badIds += 1;
              this.bars.push(bar);
              barsSeen += 1;
            } else if (event.event === "end") {
              endReason = (JSON.parse(event.data) as { reason: string }).reason;
            }
          }
        });
        res.once("error", () => undefined);
        res.once("close", () => resolve(endReason ? { kind: "end", reason: endReason } : { kind: "closed", barsSeen }));
      });
      req.once("error", () => resolve({ kind: "error" }));
      req.end();
    });
  }
}
