import type { JetStreamClient } from "@nats-io/jetstream";
import { predictionEventSchema, predictionMsgId, type NatsNames, type PredictionEvent } from "@gapfill/contracts";

/** Publishes predictions on `ml.predictions.<SYMBOL>`; resolves with how many the stream took and how many it had. */
export type PredictionPublisher = (events: readonly PredictionEvent[]) => Promise<{ published: number; duplicates: number }>;

/** Publishes in flight at once: enough to hide round trips, few enough to keep the client's buffer small. */
const IN_FLIGHT = 256;

/**
 * Each prediction checked against its contract schema and published with its message id (symbol, ts, version), so
 * publishing a batch again within the ML events stream's duplicate window stores nothing twice. Publishes go out in
 * the batch's order, so each subject holds a symbol's predictions oldest first.
 */
export function predictionPublisher(js: JetStreamClient, names: NatsNames): PredictionPublisher {
  return async (events) => {
    let duplicates = 0;
    for (let start = 0; start < events.length; start += IN_FLIGHT) {
      const acks = await Promise.all(
        events.slice(start, start + IN_FLIGHT).map((event) =>
          js.publish(names.subjects.predictions(event.symbol), JSON.stringify(predictionEventSchema.parse(event)), {
            msgID: predictionMsgId(event.symbol, event.ts, event.model_version),
          }),
        ),
      );
      duplicates += acks.filter((ack) => ack.duplicate).length;
    }
    return { published: events.length - duplicates, duplicates };
  };
}
