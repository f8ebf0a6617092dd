import { describeIssues, isAlignedBarTs, symbolSchema, type ClosedBar } from "@gapfill/contracts";
import { StoreInputError } from "./errors.ts";
import type { BarPageQuery } from "./types.ts";

/** Largest page any adapter serves in one call; the gateway's BOOTSTRAP_PAGE_LIMIT cannot exceed it. */
export const MAX_PAGE_LIMIT = 100_000;

export function checkSymbol(symbol: unknown): string {
  const parsed = symbolSchema.safeParse(symbol);
  if (!parsed.success) {
    throw new StoreInputError(`symbol ${JSON.stringify(symbol)}: ${describeIssues(parsed.error)}`);
  }
  return parsed.data;
}

function checkEpochMs(name: string, value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new StoreInputError(`${name}: expected epoch milliseconds (a non-negative integer), got ${JSON.stringify(value)}`);
  }
}

/** Validates a page request; returns it unchanged so callers can keep one name for it. */
export function checkPageQuery(query: BarPageQuery): BarPageQuery {
  const { limit } = query;
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT) {
    throw new StoreInputError(`limit: expected an integer from 1 to ${MAX_PAGE_LIMIT}, got ${JSON.stringify(limit)}`);
  }
  checkEpochMs("before", query.before);
  checkEpochMs("fromTs", query.fromTs);
  checkEpochMs("toTs", query.toTs);
  return query;
}

/**
 * Checks the key of every bar (symbol, aligned ts) and keeps only the last bar per key, in first-seen order: a
 * batch may carry a replayed bar twice, and one multi-row upsert must not touch the same row twice.
 */
export function latestBarPerKey(bars: readonly ClosedBar[]): ClosedBar[] {
  const byKey = new Map<string, ClosedBar>();
  for (const bar of bars) {
    checkSymbol(bar.symbol);
    if (!isAlignedBarTs(bar.ts)) {
      throw new StoreInputError(`ts ${JSON.stringify(bar.ts)} of a ${bar.symbol} bar: expected a bar open time (a multiple of 15000)`);
    }
    byKey.set(`${bar.symbol}:${bar.ts}`, bar);
  }
  return [...byKey.values()];
}
