import { createHash } from 'node:crypto';
import type { Client, QueryConfig, QueryResult } from 'pg';
import type { Sequelize, Transaction } from 'sequelize';

/**
 * At most this many statement texts are prepared per process: each connection keeps every
 * statement it has run (and maybe a plan for it) until it closes. Others run unprepared.
 */
const MAX_PREPARED = 100;

/**
 * pg's callback form, as Sequelize uses it: with pg's promise form every result outlived a
 * young-generation GC (measured on the list page: scavenges of ≈11 ms instead of ≈1.6 ms, and the
 * p95 with them).
 */
const run = (client: Client, config: QueryConfig) =>
  new Promise<QueryResult>((resolve, reject) => {
    client.query(config, (err: Error, result: QueryResult) => (err ? reject(err) : resolve(result)));
  });

interface Statement {
  /** The prepared statement's name, derived from its text; none past MAX_PREPARED. */
  name: string | undefined;
  /** The text with `$1`, `$2` … for PostgreSQL. */
  text: string;
  /** The value name of each position. */
  params: string[];
}

/**
 * The task service's statements and the access lookup (the hot paths) as named prepared
 * statements with bind values, on Sequelize's own pg connections. Sequelize's
 * `replacements` rewrite the SQL text in JS on every call and PostgreSQL parses the whole text
 * again; here each text is parsed once per connection and only the values travel. PostgreSQL then
 * chooses per statement between planning with the values each time (custom plans) and one generic
 * plan: lookups by key go generic after a few executions and skip planning too; list pages stay on
 * custom plans because their LIMIT is a value (a generic plan with an unknown LIMIT always costs
 * more), which they need, as a filter's selectivity depends on its values.
 *
 * Texts name their values `$name` (letters and digits). Rows come back as from `sequelize.query`
 * (same connection, same type parsers); errors are pg's own, not Sequelize's classes.
 */
export class PreparedStatements {
  private readonly sequelize: Sequelize;
  private readonly statements = new Map<string, Statement>();

  constructor(sequelize: Sequelize) {
    this.sequelize = sequelize;
  }

  private statement(sql: string): Statement {
    const known = this.statements.get(sql);
    if (known) return known;
    const params: string[] = [];
    const text = sql.replace(/\$([A-Za-z][A-Za-z0-9]*)/g, (_, param: string) => {
      const position = params.includes(param) ? params.indexOf(param) : params.push(param) - 1;
      return `$${position + 1}`;
    });
    const statement: Statement = { name: undefined, text, params };
    if (this.statements.size < MAX_PREPARED) {
      statement.name = `work_${createHash('sha1').update(sql).digest('hex').slice(0, 24)}`;
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** Runs `sql` with `values` by name, on the transaction's connection when given. */
  async query<Row>(sql: string, values: Record<string, unknown>, transaction?: Transaction): Promise<Row[]> {
    const { name, text, params } = this.statement(sql);
    const ordered = params.map((param) => {
      if (!(param in values)) throw new Error(`No value for $${param}`);
      return values[param];
    });
    const config = name ? { name, text, values: ordered } : { text, values: ordered };
    if (transaction) {
      // Sequelize keeps a transaction's pg client on it (untyped).
      const { connection } = transaction as unknown as { connection: Client };
      return (await run(connection, config)).rows as Row[];
    }
    const manager = this.sequelize.connectionManager;
    const client = (await manager.getConnection({ type: 'read' })) as Client;
    try {
      return (await run(client, config)).rows as Row[];
    } finally {
      manager.releaseConnection(client);
    }
  }
}
