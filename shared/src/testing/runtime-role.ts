// The role the services run as on the local stack and in tests: a LOGIN role without DDL rights that
// the migration step grants row access (architecture.md §7). In a deployment the operator creates it;
// here we do, on whatever server the admin URL names. Imports nothing heavy: `npm start` uses it.
import pg from 'pg';

/** Development only: the password is in the repository. */
export const LOCAL_RUNTIME_ROLE = { name: 'trellis_runtime', password: 'trellis_runtime' } as const;

/** `url` with other credentials, keeping hosts, database and query (multi-host safe). */
export function withCredentials(url: string, user: string, password: string): string {
  const match = /^([a-z][a-z0-9+.-]*:\/\/)(?:[^@/?]*@)?(.*)$/i.exec(url);
  if (!match) throw new Error('cannot parse the database URL');
  return `${match[1]}${encodeURIComponent(user)}:${encodeURIComponent(password)}@${match[2]}`;
}

/** `url` as the local runtime role. */
export function asRuntimeRole(url: string): string {
  return withCredentials(url, LOCAL_RUNTIME_ROLE.name, LOCAL_RUNTIME_ROLE.password);
}

/**
 * Creates the local runtime role unless it exists (LOGIN, its password, nothing else), with the
 * admin URL's role (which needs CREATEROLE). Several callers at once are fine.
 */
export async function ensureRuntimeRole(adminUrl: string): Promise<void> {
  const { name, password } = LOCAL_RUNTIME_ROLE;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const exists = async () =>
      ((await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name])).rowCount ?? 0) > 0;
    if (await exists()) return;
    try {
      await admin.query(
        `CREATE ROLE ${admin.escapeIdentifier(name)} LOGIN PASSWORD ${admin.escapeLiteral(password)}`,
      );
    } catch (error) {
      // Another caller created it meanwhile (duplicate_object, or the catalogue's unique index).
      if (!(await exists())) throw error;
    }
  } finally {
    await admin.end();
  }
}
