/** Runs one in-process training off the event loop (see local-trainer.ts); the result goes back to the parent. */
import { parentPort, workerData } from "node:worker_threads";
import type { TrainingHyperparameters } from "@gapfill/contracts";
import { trainAndEvaluate, type LabelledRows } from "./model/index.ts";

const { rows, hp } = workerData as { rows: LabelledRows; hp: TrainingHyperparameters };
const { model, metrics, epochLogLoss } = trainAndEvaluate(rows, hp);
parentPort!.postMessage({ model, metrics, epochLogLoss });
