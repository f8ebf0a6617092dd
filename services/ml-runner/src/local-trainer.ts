import { Worker } from "node:worker_threads";
import type { TrainingMetrics } from "@gapfill/contracts";
import { mlpToOnnx, type Mlp } from "./model/index.ts";
import type { Candidate, Trainer, TrainingRequest } from "./trainer.ts";

const WORKER_URL = new URL("./local-trainer-worker.ts", import.meta.url).href;
/**
 * Workers do not inherit a TypeScript loader the process runs under (`node --import tsx`, vitest). Node 24 strips types
 * itself, in workers too (`process.features.typescript`); under Node 20 the worker registers tsx before importing.
 */
function workerBootstrap(): string {
  if ((process.features as { typescript?: string | false }).typescript) return `import(${JSON.stringify(WORKER_URL)})`;
  return `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))})
  .then(({ register }) => { register(); return import(${JSON.stringify(WORKER_URL)}); })`;
}

/**
 * The in-process trainer (SAGEMAKER_ROLE_ARN unset): the TypeScript MLP trained in a worker thread, so the event
 * loop keeps answering NATS, renewing the tick and serving /metrics while the rows are fitted; its model goes out
 * through the project's own ONNX writer.
 */
export function localTrainer(): Trainer {
  return {
    kind: "local",
    async train({ rows, hp, signal, log }: TrainingRequest): Promise<Candidate> {
      signal.throwIfAborted();
      const startedAt = performance.now();
      const worker = new Worker(workerBootstrap(), { eval: true, workerData: { rows, hp } });
      const abort = () => void worker.terminate();
      signal.addEventListener("abort", abort, { once: true });
      try {
        const result = await new Promise<{ model: Mlp; metrics: TrainingMetrics; epochLogLoss: number[] }>((resolve, reject) => {
          worker.once("message", resolve);
          worker.once("error", reject);
          worker.once("exit", (code) => reject(signal.aborted ? signal.reason : new Error(`the training worker exited with status ${code}`)));
        });
        log.info(
          { seconds: Math.round(performance.now() - startedAt) / 1000, rows: rows.count, epochLogLoss: result.epochLogLoss.map((l) => Math.round(l * 1e5) / 1e5) },
          "in-process training finished",
        );
        return { onnx: mlpToOnnx(result.model), metrics: result.metrics, jobName: null, instanceType: null };
      } finally {
        signal.removeEventListener("abort", abort);
        await worker.terminate();
      }
    },
  };
}
