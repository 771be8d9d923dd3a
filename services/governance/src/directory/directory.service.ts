import type { Sequelize, Transaction } from 'sequelize';
import type { MemberService } from '../members/members.service.ts';

/** The user directory projection: who a user id is (name, e-mail), from `identity.user`. */
export class DirectoryService {
  private readonly sequelize: Sequelize;
  private readonly members: MemberService;

  constructor(deps: { sequelize: Sequelize; members: MemberService }) {
    this.sequelize = deps.sequelize;
    this.members = deps.members;
  }

  /** user.registered / user.updated. A deleted user stays deleted whatever arrives late. */
  async upsert(
    transaction: Transaction,
    user: { userId: string; email: string; name: string },
  ): Promise<void> {
    await this.sequelize.query(
      `INSERT INTO users (id, email, name) VALUES (:userId, :email, :name)
       ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email, name = EXCLUDED.name, updated_at = now()
       WHERE users.deleted_at IS NULL`,
      { replacements: user, transaction },
    );
  }

  /** user.deleted: tombstone the entry and take the user off every org and team. */
  async userDeleted(transaction: Transaction, userId: string): Promise<void> {
    await this.sequelize.query(
      `INSERT INTO users (id, email, name, deleted_at) VALUES (:userId, '', '', now())
       ON CONFLICT (id) DO UPDATE SET deleted_at = now(), updated_at = now()`,
      { replacements: { userId }, transaction },
    );
    await this.members.removeDeletedUser(transaction, userId);
  }
}
