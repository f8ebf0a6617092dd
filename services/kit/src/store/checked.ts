import type { ClosedBar } from "@gapfill/contracts";
import { describeFailure, OutageLog } from "../failure.ts";
import type { Logger } from "../log.ts";
import {
  barPageProblem,
  exportedEmbeddingProblem,
  newestEmbeddingsProblem,
  newestPredictionProblem,
  newestTsProblem,
  predictionsSinceProblem,
  type AnswerProblem,
} from "./answers.ts";
import { StoreInputError, StoreUnavailableError } from "./errors.ts";
import { checkExportQuery } from "./input.ts";
import type {
  BarPageQuery,
  EmbeddingExportQuery,
  EmbeddingInput,
  EmbeddingRow,
  NewestEmbeddingsQuery,
  PredictionRow,
  PredictionsSinceQuery,
  Store,
} from "./types.ts";

export interface CheckedStoreOptions {
  log: Logger;
  /** Where the backend is, for the outage log: host:port/database, a URL's host, a file. Never a credential. */
  target: string;
}

/**
 * Every adapter as its callers see it: each call either returns an answer that passed the checks of answers.ts, or
 * fails with a StoreInputError (refused before any I/O) or a StoreUnavailableError that names the backend and what it
 * answered, whatever the driver threw. Outages are logged once per state change (OutageLog), with the backend and
 * the cause.
 */
export function checkedStore(store: Store, options: CheckedStoreOptions): Store {
  return new CheckedStore(store, new OutageLog(options.log, { what: `${store.kind} store`, target: options.target }));
}

class CheckedStore implements Store {
  readonly kind: Store["kind"];

  private readonly store: Store;
  private readonly outage: OutageLog;

  constructor(
    store: Store,
    outage: OutageLog,
  ) {
    this.store = store;
    this.outage = outage;
    this.kind = store.kind;
  }

  private unavailable(operation: string, error: unknown): unknown {
    if (error instanceof StoreInputError) return error;
    const failure =
      error instanceof StoreUnavailableError ? error : new StoreUnavailableError(this.kind, operation, describeFailure(error), { cause: error });
    this.outage.failed(failure.answered, { operation });
    return failure;
  }

  private async call<T>(operation: string, run: () => Promise<T>, problemOf: (answer: T) => AnswerProblem = () => null): Promise<T> {
    let answer: T;
    try {
      answer = await run();
    } catch (error) {
      throw this.unavailable(operation, error);
    }
    const problem = problemOf(answer);
    if (problem !== null) throw this.unavailable(operation, new StoreUnavailableError(this.kind, operation, `unexpected answer: ${problem}`));
    this.outage.succeeded();
    return answer;
  }

  lastBarTs(symbol: string): Promise<number | null> {
    return this.call("last bar", () => this.store.lastBarTs(symbol), newestTsProblem);
  }

  pageNewestFirst(symbol: string, query: BarPageQuery): Promise<ClosedBar[]> {
    return this.call("page", () => this.store.pageNewestFirst(symbol, query), (rows) => barPageProblem(rows, symbol, query));
  }

  upsertBars(bars: readonly ClosedBar[]): Promise<void> {
    return this.call("upsert", () => this.store.upsertBars(bars));
  }

  upsertEmbeddings(rows: readonly EmbeddingInput[]): Promise<void> {
    return this.call("embedding upsert", () => this.store.upsertEmbeddings(rows));
  }

  lastEmbeddingTs(symbol: string): Promise<number | null> {
    return this.call("last embedding", () => this.store.lastEmbeddingTs(symbol), newestTsProblem);
  }

  newestEmbeddings(symbol: string, query: NewestEmbeddingsQuery): Promise<EmbeddingRow[]> {
    return this.call("newest embeddings", () => this.store.newestEmbeddings(symbol, query), (rows) => newestEmbeddingsProblem(rows, symbol, query));
  }

  exportEmbeddings(query: EmbeddingExportQuery): AsyncIterable<EmbeddingRow> {
    // The adapter checks the query at once, as its callers expect: a StoreInputError is thrown here, not on iteration.
    const rows = this.store.exportEmbeddings(query);
    return this.checkedExport(rows, checkExportQuery(query));
  }

  private async *checkedExport(rows: AsyncIterable<EmbeddingRow>, query: EmbeddingExportQuery & { pageSize: number }): AsyncGenerator<EmbeddingRow> {
    const iterator = rows[Symbol.asyncIterator]();
    let previous: EmbeddingRow | undefined;
    for (let index = 0; ; index++) {
      let next: IteratorResult<EmbeddingRow>;
      try {
        next = await iterator.next();
      } catch (error) {
        throw this.unavailable("embedding export", error);
      }
      if (next.done) break;
      const problem = exportedEmbeddingProblem(next.value, index, previous, query);
      if (problem !== null) {
        await iterator.return?.();
        throw this.unavailable("embedding export", new StoreUnavailableError(this.kind, "embedding export", `unexpected answer: ${problem}`));
      }
      previous = next.value;
      yield next.value;
    }
    this.outage.succeeded();
  }

  upsertPredictions(rows: readonly PredictionRow[]): Promise<void> {
    return this.call("prediction upsert", () => this.store.upsertPredictions(rows));
  }

  newestPrediction(symbol: string, modelVersion?: string): Promise<PredictionRow | null> {
    return this.call(
      "newest prediction",
      () => this.store.newestPrediction(symbol, modelVersion),
      (row) => newestPredictionProblem(row, symbol, modelVersion),
    );
  }

  predictionsSince(symbol: string, query: PredictionsSinceQuery): Promise<PredictionRow[]> {
    return this.call("predictions since", () => this.store.predictionsSince(symbol, query), (rows) => predictionsSinceProblem(rows, symbol, query));
  }

  ping(): Promise<void> {
    return this.call("ping", () => this.store.ping());
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
