import { request, type ClientRequest, type IncomingMessage } from "node:http";

export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

/**
 * A raw HTTP SSE client: no EventSource semantics (no reconnects), every event and comment as it arrives, so
 * tests see exactly what went over the wire.
 */
export class RawSseClient {
  readonly events: SseEvent[] = [];
  retry: number | null = null;
  comments = 0;
  status = 0;
  headers: IncomingMessage["headers"] = {};
  body = "";
  closed = false;
  private buffer = "";
  private req: ClientRequest | null = null;
  private res: IncomingMessage | null = null;

  static open(url: string, headers: Record<string, string> = {}): Promise<RawSseClient> {
    const client = new RawSseClient();
    return new Promise((resolve, reject) => {
      client.req = request(url, { headers: { accept: "text/event-stream", ...headers } }, (res) => {
        client.res = res;
        client.status = res.statusCode ?? 0;
        client.headers = res.headers;
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => client.feed(chunk));
        res.on("close", () => (client.closed = true));
        res.on("error", () => (client.closed = true));
        resolve(client);
      });
      client.req.on("error", (error) => {
        client.closed = true;
        reject(error);
      });
      client.req.end();
    });
  }

  private feed(chunk: string): void {
    if (this.status !== 200) {
      this.body += chunk;
      return;
    }
    this.buffer += chunk;
    let boundary: number;
    while ((boundary = this.buffer.indexOf("\n\n")) >= 0) {
      const block = this.buffer.slice(0, boundary);
      this.buffer = this.buffer.slice(boundary + 2);
      const event: SseEvent = { event: "message", data: "" };
      let hasData = false;
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) this.comments++;
        else if (line.startsWith("retry: ")) this.retry = Number(line.slice(7));
        else if (line.startsWith("event: ")) event.event = line.slice(7);
        else if (line.startsWith("id: ")) event.id = line.slice(4);
        else if (line.startsWith("data: ")) {
          event.data += line.slice(6);
          hasData = true;
        }
      }
      if (hasData) this.events.push(event);
    }
  }

  named(name: string): SseEvent[] {
    return this.events.filter((e) => e.event === name);
  }

  /** Open times of the bar events received, in order. */
  barTimes(): number[] {
    return this.named("bar").map((e) => Number(e.id));
  }

  /** Stops reading without closing: the server's writes pile up (a slow consumer). */
  pause(): void {
    this.res?.pause();
  }

  close(): void {
    this.req?.destroy();
    this.closed = true;
  }
}
