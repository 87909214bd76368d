import { sql, type SelectQueryBuilder, type StringReference } from 'kysely';

/** What a list request asks for: at most `limit` rows after `cursor`, the last id of the page before. */
export interface PageRequest {
  limit: number;
  cursor?: string;
}

/** One page of a list, as the API answers it; `next_cursor` is null on the last page. */
export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/**
 * Keyset pagination over ids: the cursor is the last id of the page, so pages stay stable while
 * rows are added. `id` names the key as the query knows it (`runs.id` where tables are joined);
 * newest-first lists (`desc`) go on below the cursor. One row more than the page is fetched to
 * know whether there is a next page.
 */
export async function keysetPage<DB, TB extends keyof DB, O extends { id: number }>(
  query: SelectQueryBuilder<DB, TB, O>,
  id: StringReference<DB, TB>,
  order: 'asc' | 'desc',
  request: PageRequest,
): Promise<Page<O>> {
  const key = sql.ref(id);
  let q = query.orderBy(key, order).limit(request.limit + 1);
  if (request.cursor) q = q.where(key, order === 'asc' ? '>' : '<', Number(request.cursor));
  const rows = await q.execute();
  if (rows.length <= request.limit) return { items: rows, next_cursor: null };
  const items = rows.slice(0, request.limit);
  return { items, next_cursor: String(items[items.length - 1]!.id) };
}

/** The same page with each row shown as the API shows it. */
export const mapPage = <T, U>(page: Page<T>, view: (row: T) => U): Page<U> => ({
  items: page.items.map(view),
  next_cursor: page.next_cursor,
});
