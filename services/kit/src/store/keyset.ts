/**
 * The rows of successive keyset pages, read lazily: each page starts after the last row of the one before, and a
 * page shorter than `pageSize` is the last. Only one page is held at a time.
 */
export async function* keysetPages<T>(readPage: (after: T | undefined) => Promise<T[]>, pageSize: number): AsyncGenerator<T> {
  let after: T | undefined;
  for (;;) {
    const page = await readPage(after);
    yield* page;
    if (page.length < pageSize) return;
    after = page[page.length - 1];
  }
}
