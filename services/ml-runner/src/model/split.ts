import { TrainingDataError } from "./rows.ts";

export interface SplitOptions {
  /** Share of the rows, the newest, held out for evaluation. */
  holdoutFraction: number;
  /** Label horizon: a row's label is decided by the price at ts + horizonMs. */
  horizonMs: number;
}

/**
 * A time-ordered split of rows sorted by ts: training rows [0, trainRows), embargoed rows
 * [trainRows, holdoutStart), holdout rows [holdoutStart, count).
 */
export interface TimeSplit {
  trainRows: number;
  embargoedRows: number;
  holdoutStart: number;
  holdoutRows: number;
  firstHoldoutTs: number;
}

/**
 * Holdout = the newest floor(count × holdoutFraction) rows; a row before it is kept for training only if its label
 * horizon ends before the holdout starts (ts + horizonMs < first holdout ts), so no training label was decided by
 * prices the holdout is scored on. Rows sharing the first holdout ts fall in the embargo.
 */
export function timeOrderedSplit(ts: ArrayLike<number>, options: SplitOptions): TimeSplit {
  const count = ts.length;
  for (let i = 1; i < count; i++) {
    if (ts[i]! < ts[i - 1]!) throw new TrainingDataError(`rows must be sorted by ts: row ${i} (${ts[i]}) is before row ${i - 1} (${ts[i - 1]})`);
  }
  const holdoutRows = Math.floor(count * options.holdoutFraction);
  if (holdoutRows < 1) {
    throw new TrainingDataError(`${count} rows leave no holdout at holdout fraction ${options.holdoutFraction}`);
  }
  const holdoutStart = count - holdoutRows;
  const firstHoldoutTs = ts[holdoutStart]!;
  let trainRows = 0;
  while (trainRows < holdoutStart && ts[trainRows]! + options.horizonMs < firstHoldoutTs) trainRows++;
  if (trainRows < 1) {
    throw new TrainingDataError(
      `no training rows: every row before the holdout (from ts ${firstHoldoutTs}) is within the ${options.horizonMs} ms label horizon of it`,
    );
  }
  return { trainRows, embargoedRows: holdoutStart - trainRows, holdoutStart, holdoutRows, firstHoldoutTs };
}
