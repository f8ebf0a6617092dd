import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { natsNames, predictionEventSchema, type PredictionEvent } from "@gapfill/contracts";

/**
 * Every prediction in the namespace's ML events stream (`<ns>.ml.predictions.*`), in stream order, each checked
 * against its contract schema: what a subscriber of the subjects got, duplicates included had there been any.
 */
export async function readStreamPredictions(nc: NatsConnection, namespace: string): Promise<PredictionEvent[]> {
  const names = natsNames(namespace);
  const js = jetstream(nc);
  const info = await (await js.jetstreamManager()).streams.info(names.streams.mlEvents, { subjects_filter: names.subjects.allPredictions });
  const stored = Object.values(info.state.subjects ?? {}).reduce((sum, count) => sum + count, 0);
  if (stored === 0) return [];
  const consumer = await js.consumers.get(names.streams.mlEvents, { filter_subjects: names.subjects.allPredictions, deliver_policy: DeliverPolicy.All });
  const messages = await consumer.consume();
  const predictions: PredictionEvent[] = [];
  for await (const msg of messages) {
    predictions.push(predictionEventSchema.parse(msg.json()));
    if (msg.info.pending === 0) break;
  }
  await messages.close();
  return predictions;
}
