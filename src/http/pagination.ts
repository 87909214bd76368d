import type { ListQuery } from './schemas.js';

/**
 * Keyset pagination over ids: the cursor is the last id of the page, so pages stay stable
 * while rows are added. Callers fetch limit + 1 rows to know whether there is a next page.
 */
export function page<T extends { id: number }>(
  rows: T[],
  query: ListQuery,
): { items: T[]; next_cursor: string | null } {
  if (rows.length <= query.limit) return { items: rows, next_cursor: null };
  const items = rows.slice(0, query.limit);
  return { items, next_cursor: String(items[items.length - 1]!.id) };
}

export const cursorId = (query: ListQuery): number | null => (query.cursor ? Number(query.cursor) : null);
