/** The page every list answers (api.md §1): items, and the cursor of the next page or null. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/**
 * Every item of a list, page after page, following `nextCursor` until it is null:
 * `for await (const task of pages((cursor) => unwrap(api.GET('/api/v1/projects/{id}/tasks',
 * { params: { path: { id }, query: { cursor } } }))))`.
 */
export async function* pages<T>(page: (cursor: string | undefined) => Promise<Page<T>>): AsyncGenerator<T> {
  let cursor: string | undefined;
  do {
    const { items, nextCursor } = await page(cursor);
    yield* items;
    cursor = nextCursor ?? undefined;
  } while (cursor !== undefined);
}
