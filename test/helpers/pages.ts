import { expect } from 'vitest';
import type { Api } from './server.js';

/**
 * Follows next_cursor from a list's first page to its last, `limit` items at a time; returns
 * every page. Each answer is checked for the list shape and the limit on the way.
 */
export async function walkPages(api: Api, path: string, limit: number, token?: string): Promise<any[][]> {
  const pages: any[][] = [];
  let cursor: string | null = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const res = await api('GET', `${path}${sep}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`, {
      token,
    });
    expect(res.status, path).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['items', 'next_cursor']);
    expect(res.body.items.length).toBeLessThanOrEqual(limit);
    pages.push(res.body.items);
    cursor = res.body.next_cursor;
    expect(pages.length).toBeLessThan(100);
  } while (cursor !== null);
  return pages;
}
