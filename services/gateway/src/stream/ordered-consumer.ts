import { AckPolicy, DeliverPolicy, type Consumer, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";

/**
 * Pull expiry of our consumers. The client re-checks a consumer after a reconnect on this schedule, so it bounds
 * how long streams stay silent after a NATS restart (the 30 s default would leave them silent that long).
 */
export const PULL_EXPIRES_MS = 5_000;

/**
 * The stream sequence a consumer starting at store time `time` would begin at, learned from a short-lived probe
 * consumer (a new consumer reports `delivered.stream_seq` = start − 1).
 */
async function startSeqAt(jsm: JetStreamManager, stream: string, subject: string, time: Date): Promise<number> {
  const probe = await jsm.consumers.add(stream, {
    filter_subject: subject,
    deliver_policy: DeliverPolicy.StartTime,
    opt_start_time: time.toISOString(),
    ack_policy: AckPolicy.None,
    mem_storage: true,
    inactive_threshold: nanos(30_000),
  });
  await jsm.consumers.delete(stream, probe.name).catch(() => false);
  return probe.delivered.stream_seq + 1;
}

/**
 * An ordered consumer of one subject from store time `from` (null: from the stream's start), created by sequence:
 * nats.js cannot recreate an ordered consumer made with `opt_start_time` after the server restarts (it sends the
 * start time along with its new start sequence and the server refuses the pair), so it would never resume.
 */
export async function orderedConsumerFrom(
  js: JetStreamClient,
  jsm: JetStreamManager,
  stream: string,
  subject: string,
  from: Date | null,
): Promise<Consumer> {
  const startSeq = from ? await startSeqAt(jsm, stream, subject, from) : 1;
  return js.consumers.get(stream, { filter_subjects: subject, opt_start_seq: startSeq });
}
