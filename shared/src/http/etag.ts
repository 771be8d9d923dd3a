/** ETag of a versioned object (api.md §1). */
export function etagOf(entity: { version: number }): string {
  return `"${entity.version}"`;
}

/** If-Match of api.md §1: absent or `*` passes; otherwise it must name the current version. */
export function ifMatchPasses(ifMatch: string | undefined, entity: { version: number }): boolean {
  if (ifMatch === undefined || ifMatch.trim() === '*') return true;
  return ifMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etagOf(entity));
}
