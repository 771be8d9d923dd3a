import { z } from 'zod';
import { decodeCursor, pageOf, type Page } from '@trellis/shared';

/**
 * Keyset pagination over `(timestamp, id)`. The timestamp travels as PostgreSQL's own text form
 * (selected as `at`), so the cursor keeps its microseconds and compares exactly on the next page.
 */
const cursorSchema = z.object({ at: z.string().min(1).max(64), id: z.uuid() });

export interface KeysetRow {
  at: string;
  id: string;
}

export interface Keyset {
  /** SQL to AND into the WHERE clause, comparing `(timeColumn, idColumn)` with the cursor. */
  condition: string;
  replacements: Record<string, unknown>;
}

export function afterCursor(cursor: string | undefined, timeColumn: string, idColumn: string): Keyset {
  if (cursor === undefined) return { condition: 'TRUE', replacements: {} };
  const { at, id } = decodeCursor(cursor, cursorSchema);
  return {
    condition: `(${timeColumn}, ${idColumn}) > (CAST(:cursorAt AS timestamptz), CAST(:cursorId AS uuid))`,
    replacements: { cursorAt: at, cursorId: id },
  };
}

export function keysetPage<Row extends KeysetRow, Item>(
  rows: Row[],
  limit: number,
  toItem: (row: Row) => Item,
): Page<Item> {
  return pageOf(rows, limit, toItem, (row) => ({ at: row.at, id: row.id }));
}

/** A `q` for ILIKE: wildcards in the user's text match literally. */
export function containsPattern(q: string): string {
  return `%${q.replace(/[\\%_]/g, '\\$&')}%`;
}
