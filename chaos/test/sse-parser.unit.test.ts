import { expect, it } from "vitest";
import { SseParser } from "../src/clients.ts";

it("splits an event stream into events wherever the chunks end, skipping comments and retry fields", () => {
  const text =
    "retry: 1000\n\n: heartbeat\n\nevent: bar\nid: 15000\ndata: {\"ts\":15000}\n\n" +
    "event: live\ndata: {\"last_ts\":15000}\n\ndata: one\ndata: two\n\nevent: end\ndata:{\"reason\":\"max_duration\"}\n\n";
  const expected = [
    { event: "bar", id: "15000", data: '{"ts":15000}' },
    { event: "live", id: null, data: '{"last_ts":15000}' },
    { event: "message", id: null, data: "one\ntwo" },
    { event: "end", id: null, data: '{"reason":"max_duration"}' },
  ];
  expect(new SseParser().feed(text)).toEqual(expected);
  for (const size of [1, 2, 7, 13]) {
    const parser = new SseParser();
    const events = [];
    for (let i = 0; i < text.length; i += size) events.push(...parser.feed(text.slice(i, i + size)));
    expect(events, `chunks of ${size}`).toEqual(expected);
  }
});

it("holds back an event until its blank line arrives", () => {
  const parser = new SseParser();
  expect(parser.feed("event: bar\nid: 1\ndata: {}\n")).toEqual([]);
  expect(parser.feed("\n")).toEqual([{ event: "bar", id: "1", data: "{}" }]);
});
