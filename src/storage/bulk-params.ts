/**
 * Lists and tables of values as a single bound parameter each: a JSON array read by SQLite's
 * json_each, a typed array unnested by PostgreSQL. The statement's text stays the same however
 * many values there are, so it is prepared once and reused, and building it costs the same for
 * one value as for a hundred (an `IN (?, ?, ...)` list costs a query-builder node per value).
 */
import { sql, type RawBuilder } from 'kysely';
import type { Dialect } from './database.js';

/** `(SELECT ...)` of the ids, for `column IN ${idList(...)}`. */
export function idList(dialect: Dialect, ids: readonly number[]): RawBuilder<unknown> {
  return dialect === 'sqlite'
    ? sql`(SELECT value FROM json_each(${JSON.stringify(ids)}))`
    : sql`(SELECT unnest(${ids}::bigint[]))`;
}

export type ColumnType = 'bigint' | 'integer' | 'text';

/**
 * The rows as a table named `alias` with the given columns, usable after FROM (an UPDATE's
 * source, an INSERT's SELECT). Each row has one value per column, in order.
 */
export function valuesTable(
  dialect: Dialect,
  alias: string,
  columns: readonly (readonly [name: string, type: ColumnType])[],
  rows: readonly (readonly unknown[])[],
): RawBuilder<unknown> {
  if (dialect === 'sqlite') {
    const picks = columns.map(([name], i) => sql`value ->> ${sql.raw(String(i))} AS ${sql.ref(name)}`);
    return sql`(SELECT ${sql.join(picks)} FROM json_each(${JSON.stringify(rows)})) AS ${sql.table(alias)}`;
  }
  const arrays = columns.map(([, type], i) => sql`${rows.map((r) => r[i] ?? null)}::${sql.raw(type)}[]`);
  const names = columns.map(([name]) => sql.ref(name));
  return sql`unnest(${sql.join(arrays)}) AS ${sql.table(alias)}(${sql.join(names)})`;
}
