import { BAR_COLUMNS, type BootstrapColumnsPage, type BootstrapPage, type ClosedBar } from "@gapfill/contracts";

export type PageFormat = "rows" | "columns";

/** A bootstrap page's JSON: bar objects (`rows`), or one array per field (`columns`), newest first either way. */
export function pageBody(format: PageFormat, symbol: string, bars: ClosedBar[], nextCursor: string | null): string {
  if (format === "rows") return JSON.stringify({ symbol, bars, next_cursor: nextCursor } satisfies BootstrapPage);
  const page: Record<string, unknown> = { symbol };
  for (const field of BAR_COLUMNS) page[field] = bars.map((bar) => bar[field]);
  page.next_cursor = nextCursor;
  return JSON.stringify(page as BootstrapColumnsPage);
}
