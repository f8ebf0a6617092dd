import type { JetStreamClient } from "@nats-io/jetstream";
import {
  modelPublishedEventSchema,
  runFailedEventSchema,
  runFinishedEventSchema,
  runStartedEventSchema,
  type ModelPublishedEvent,
  type NatsNames,
  type RunFailedEvent,
  type RunFinishedEvent,
  type RunStartedEvent,
} from "@gapfill/contracts";
import type { z } from "zod";

/**
 * ml-runner's messages on the ML events stream, each checked against its contract schema and published with a
 * message id, so a step repeated within the stream's duplicate window (a resumed run) announces nothing twice.
 */
export interface RunEvents {
  started(event: RunStartedEvent): Promise<void>;
  finished(event: RunFinishedEvent): Promise<void>;
  failed(event: RunFailedEvent): Promise<void>;
  published(event: ModelPublishedEvent): Promise<void>;
}

export function runEvents(js: JetStreamClient, names: NatsNames): RunEvents {
  const send = async <S extends z.ZodType>(subject: string, schema: S, event: z.input<S>, msgID: string) => {
    await js.publish(subject, JSON.stringify(schema.parse(event)), { msgID });
  };
  return {
    started: (event) => send(names.subjects.runEvent("started"), runStartedEventSchema, event, `${event.run_id}:started:${event.delivery}`),
    finished: (event) => send(names.subjects.runEvent("finished"), runFinishedEventSchema, event, `${event.run_id}:finished`),
    failed: (event) => send(names.subjects.runEvent("failed"), runFailedEventSchema, event, `${event.run_id}:failed:${event.delivery}`),
    published: (event) =>
      send(
        names.subjects.modelPublished,
        modelPublishedEventSchema,
        event,
        event.promoted_by === "run" ? `${event.run_id}:published` : `promote:${event.version}:${event.at}`,
      ),
  };
}
