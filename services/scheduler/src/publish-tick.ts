import { JetStreamApiCodes, JetStreamApiError, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { tickMsgId, type NatsNames, type TickEvent } from "@gapfill/contracts";
import { decodeTickMessage } from "@gapfill/kit";

export type TickOutcome = "published" | "already there";

export interface TickResult {
  outcome: TickOutcome;
  /** Stream sequence of the tick published, or of the last tick found on the subject (0: none). */
  seq: number;
  /** The subject's last message before ours when it was not a tick (consumers terminate it), with why not. */
  malformedLast: { seq: number; reason: string } | null;
}

/**
 * Publishes `tick` unless its subject already holds a tick for this window or a later one. The subject's last
 * message is read (a direct get), and the tick is published with that message's sequence as the expected last
 * subject sequence: when another scheduler publishes first, JetStream refuses ours ("wrong last sequence") and the
 * next read finds theirs. So any number of schedulers publish each window once, however long ago the duplicate
 * window (the tick's `Nats-Msg-Id`) forgot an earlier one.
 */
export async function publishTickOnce(
  js: JetStreamClient,
  jsm: JetStreamManager,
  names: NatsNames,
  tick: TickEvent,
): Promise<TickResult> {
  const subject = names.subjects.tick(tick.kind);
  // Each refusal means another message landed on the subject in between; the loop ends once ours or a tick for
  // this window is the last one.
  for (;;) {
    const last = await jsm.direct.getMessage(names.streams.mlTicks, { last_by_subj: subject });
    const decoded = last ? decodeTickMessage(subject, last.data) : null;
    if (last && decoded?.ok && decoded.tick.window_start >= tick.window_start) {
      return { outcome: "already there", seq: last.seq, malformedLast: null };
    }
    try {
      const ack = await js.publish(subject, JSON.stringify(tick), {
        msgID: tickMsgId(tick),
        expect: { lastSubjectSequence: last?.seq ?? 0 },
      });
      return {
        outcome: ack.duplicate ? "already there" : "published",
        seq: ack.seq,
        malformedLast: last && decoded && !decoded.ok ? { seq: last.seq, reason: decoded.reason } : null,
      };
    } catch (error) {
      if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamWrongLastSequence) continue;
      throw error;
    }
  }
}
