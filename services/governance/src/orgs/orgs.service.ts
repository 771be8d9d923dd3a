import { randomUUID } from 'node:crypto';
import { Op, QueryTypes, UniqueConstraintError, type Sequelize, type Transaction } from 'sequelize';
import {
  authorize,
  defaultOrgSettings,
  errors,
  formerOwnerRole,
  governanceEvents,
  type OrgRole,
  type Page,
  type PgOutbox,
  withinRestoreWindow,
} from '@trellis/shared';
import type { AccessService } from '../access/access.service.ts';
import { governanceEvent } from '../events/outgoing.ts';
import { afterCursor, keysetPage } from '../keyset.ts';
import type { Models } from '../models.ts';
import type { OrgInstance } from './orgs.model.ts';
import type { OrgView } from './orgs.schemas.ts';
import { ifMatchPasses, orgData, toOrgView } from './orgs.views.ts';

const SLUG_ATTEMPTS = 3;

/** "Acme Corp." → "acme-corp"; accents dropped, anything else becomes a dash. */
export function slugify(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/, '');
  if (slug.length >= 2) return slug;
  return slug ? `org-${slug}` : 'org';
}

export class OrgService {
  private readonly sequelize: Sequelize;
  private readonly models: Models;
  private readonly outbox: PgOutbox;
  private readonly access: AccessService;

  constructor(deps: { sequelize: Sequelize; models: Models; outbox: PgOutbox; access: AccessService }) {
    this.sequelize = deps.sequelize;
    this.models = deps.models;
    this.outbox = deps.outbox;
    this.access = deps.access;
  }

  /**
   * Creates the org with its creator as OWNER, in one transaction. An explicit slug that is taken is
   * a 409; a derived one gets the first free `-2`, `-3`… suffix (retried if a concurrent create wins).
   */
  async create(actorId: string, input: { name: string; slug?: string | undefined }): Promise<OrgView> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.sequelize.transaction((transaction) => this.createIn(transaction, actorId, input));
      } catch (err) {
        if (!(err instanceof UniqueConstraintError)) throw err;
        if (input.slug !== undefined) throw slugTaken(input.slug);
        if (attempt >= SLUG_ATTEMPTS) throw errors.conflict('No free slug was found; choose one.');
      }
    }
  }

  private async createIn(
    transaction: Transaction,
    actorId: string,
    input: { name: string; slug?: string | undefined },
  ): Promise<OrgView> {
    let slug = input.slug;
    if (slug === undefined) slug = await this.freeSlug(slugify(input.name), transaction);
    else if (await this.models.Org.findOne({ where: { slug }, paranoid: false, transaction }))
      throw slugTaken(slug);
    const org = await this.models.Org.create(
      { id: randomUUID(), name: input.name, slug, ownerId: actorId, settings: defaultOrgSettings() },
      { transaction },
    );
    await this.models.OrgMember.create({ orgId: org.id, userId: actorId, role: 'OWNER' }, { transaction });
    const meta = { orgId: org.id, actorId };
    await this.outbox.add(transaction, [
      governanceEvent(governanceEvents.orgCreated, { ...meta, subjectId: org.id, data: orgData(org) }),
      governanceEvent(governanceEvents.memberAdded, {
        ...meta,
        subjectId: `${org.id}:${actorId}`,
        data: { orgId: org.id, userId: actorId, role: 'OWNER' },
      }),
    ]);
    return toOrgView(org, 'OWNER');
  }

  /** `base`, else the first of `base-2`, `base-3`… that no org (deleted ones included) holds. */
  private async freeSlug(base: string, transaction: Transaction): Promise<string> {
    const rows = await this.sequelize.query<{ slug: string }>(
      `SELECT slug FROM orgs WHERE slug = :base OR slug LIKE :pattern`,
      { replacements: { base, pattern: `${base}-%` }, type: QueryTypes.SELECT, transaction },
    );
    const taken = new Set(rows.map((row) => row.slug));
    if (!taken.has(base)) return base;
    for (let n = 2; ; n++) if (!taken.has(`${base}-${n}`)) return `${base}-${n}`;
  }

  /** The live orgs the user belongs to, oldest first. */
  async listMine(
    userId: string,
    page: { limit: number; cursor?: string | undefined },
  ): Promise<Page<OrgView>> {
    const keyset = afterCursor(page.cursor, 'o.created_at', 'o.id');
    const rows = await this.sequelize.query<{ id: string; at: string; role: OrgRole }>(
      `SELECT o.id, o.created_at::text AS at, m.role
         FROM org_members m JOIN orgs o ON o.id = m.org_id
        WHERE m.user_id = :userId AND o.deleted_at IS NULL AND ${keyset.condition}
        ORDER BY o.created_at, o.id
        LIMIT :take`,
      {
        replacements: { userId, take: page.limit + 1, ...keyset.replacements },
        type: QueryTypes.SELECT,
      },
    );
    const orgs = await this.models.Org.findAll({ where: { id: { [Op.in]: rows.map((r) => r.id) } } });
    const byId = new Map(orgs.map((org) => [org.id, org]));
    const live = rows.filter((row) => byId.has(row.id));
    return keysetPage(live, page.limit, (row) => toOrgView(byId.get(row.id) as OrgInstance, row.role));
  }

  async get(actorId: string, orgId: string): Promise<OrgView> {
    const { org, role } = await this.access.org(orgId, actorId);
    return toOrgView(org, role);
  }

  /** `{id, name, slug}` of a live org, for anyone signed in (to find an org to ask to join). */
  async bySlug(slug: string): Promise<{ id: string; name: string; slug: string }> {
    const org = await this.models.Org.findOne({ where: { slug: slug.toLowerCase() } });
    if (!org) throw errors.notFound('organization');
    return { id: org.id, name: org.name, slug: org.slug };
  }

  /** ADMIN+ renames; If-Match must name the current version when given. */
  async rename(actorId: string, orgId: string, name: string, ifMatch?: string): Promise<OrgView> {
    return this.sequelize.transaction(async (transaction) => {
      const { org, role } = await this.access.org(orgId, actorId, { transaction, lock: true });
      authorize({ scope: 'org', action: 'org.update', memberships: { orgRole: role } });
      if (!ifMatchPasses(ifMatch, org)) throw errors.preconditionFailed();
      if (name === org.name) return toOrgView(org, role);
      await org.update({ name, version: org.version + 1 }, { transaction });
      await this.outbox.add(
        transaction,
        governanceEvent(governanceEvents.orgUpdated, {
          orgId,
          actorId,
          subjectId: orgId,
          data: orgData(org),
        }),
      );
      return toOrgView(org, role);
    });
  }

  /** Owner only; soft delete: the org and everything in it answer 404 from now on. */
  async remove(actorId: string, orgId: string): Promise<void> {
    await this.sequelize.transaction(async (transaction) => {
      const { org, role } = await this.access.org(orgId, actorId, { transaction, lock: true });
      authorize({ scope: 'org', action: 'org.delete', memberships: { orgRole: role } });
      await org.update({ version: org.version + 1 }, { transaction });
      await org.destroy({ transaction });
      await this.outbox.add(
        transaction,
        governanceEvent(governanceEvents.orgDeleted, { orgId, actorId, subjectId: orgId, data: { orgId } }),
      );
    });
  }

  /** The owner brings a deleted org back within 30 days; to anyone else, or later, it does not exist. */
  async restore(actorId: string, orgId: string): Promise<OrgView> {
    return this.sequelize.transaction(async (transaction) => {
      const org = await this.models.Org.findByPk(orgId, {
        paranoid: false,
        transaction,
        lock: transaction.LOCK.UPDATE,
      });
      const deletedAt = org?.deletedAt;
      const restorable = org && deletedAt && withinRestoreWindow(deletedAt) && org.ownerId === actorId;
      if (!restorable) throw errors.notFound('organization');
      await org.restore({ transaction });
      await org.update({ version: org.version + 1 }, { transaction });
      await this.outbox.add(
        transaction,
        governanceEvent(governanceEvents.orgRestored, {
          orgId,
          actorId,
          subjectId: orgId,
          data: orgData(org),
        }),
      );
      return toOrgView(org, 'OWNER');
    });
  }

  /** Owner only; the target must be a member: target → OWNER, the old owner → ADMIN. */
  async transferOwnership(actorId: string, orgId: string, toUserId: string): Promise<OrgView> {
    return this.sequelize.transaction(async (transaction) => {
      const { org, member, role } = await this.access.org(orgId, actorId, { transaction, lock: true });
      authorize({ scope: 'org', action: 'org.transferOwnership', memberships: { orgRole: role } });
      if (toUserId === actorId) {
        throw errors.validation([{ path: 'body.userId', message: 'You already own this organization' }], 422);
      }
      const target = await this.models.OrgMember.findOne({ where: { orgId, userId: toUserId }, transaction });
      if (!target) {
        throw errors.validation([{ path: 'body.userId', message: 'Not a member of this organization' }], 422);
      }
      const demotedTo = formerOwnerRole('org') as OrgRole;
      const targetFrom = target.role;
      // Demote first: the one-owner index is checked row by row.
      await member.update({ role: demotedTo }, { transaction });
      await target.update({ role: 'OWNER' }, { transaction });
      await org.update({ ownerId: toUserId, version: org.version + 1 }, { transaction });
      const meta = { orgId, actorId };
      await this.outbox.add(transaction, [
        governanceEvent(governanceEvents.orgOwnershipTransferred, {
          ...meta,
          subjectId: orgId,
          data: { orgId, fromUserId: actorId, toUserId },
        }),
        // Membership projections that only follow governance.membership stay right too.
        governanceEvent(governanceEvents.memberRoleChanged, {
          ...meta,
          subjectId: `${orgId}:${actorId}`,
          data: { orgId, userId: actorId, from: 'OWNER', to: demotedTo },
        }),
        governanceEvent(governanceEvents.memberRoleChanged, {
          ...meta,
          subjectId: `${orgId}:${toUserId}`,
          data: { orgId, userId: toUserId, from: targetFrom, to: 'OWNER' },
        }),
      ]);
      return toOrgView(org, demotedTo);
    });
  }
}

function slugTaken(slug: string) {
  return errors.conflict(`The slug "${slug}" is taken.`);
}
