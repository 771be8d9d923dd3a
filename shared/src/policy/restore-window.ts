/** How long a deleted org, project or task can be brought back (product.md §1): 30 days. */
export const RESTORE_WINDOW_MS = 30 * 86_400_000;

/** Whether something deleted at `deletedAt` can still be restored. */
export function withinRestoreWindow(deletedAt: Date, now = Date.now()): boolean {
  return now - deletedAt.getTime() <= RESTORE_WINDOW_MS;
}
