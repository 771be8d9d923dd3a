import { AppError, errors } from '../http/errors.ts';
import { rank } from './roles.ts';
import type { Scope } from './roles.ts';

// product.md §4. These complement the thresholds (decide/authorize): passing `member.updateRole`
// says you may manage roles at all; these say on whom and to what. Roles are effective roles.

/** Who acts, with their effective role at the scope. */
export interface MembershipActor {
  scope: Scope;
  actorRole: string | null;
  /** The org OWNER acting on a team or project: outranks everyone there. */
  actorBypass?: boolean;
}

const OWNER = 'OWNER';

function ownerNeverGiven(): AppError {
  return errors.validation(
    [{ path: 'role', message: 'OWNER is only given by an ownership transfer' }],
    422,
    'OWNER cannot be given directly; use an ownership transfer.',
  );
}

function ownerMustTransfer(scope: Scope, what: string): AppError {
  return new AppError(409, 'OWNER_MUST_TRANSFER', {
    detail: `The ${scope} owner ${what}; transfer ownership first.`,
  });
}

function requireSomeRole(actor: MembershipActor): string {
  if (actor.actorRole === null) throw errors.forbidden(`You have no role in this ${actor.scope}.`);
  return actor.actorRole;
}

/** The actor must outrank the target's current role. */
function requireOutranks(actor: MembershipActor, targetRole: string, doing: string): void {
  if (actor.actorBypass) return;
  const own = requireSomeRole(actor);
  if (rank(actor.scope, own) <= rank(actor.scope, targetRole))
    throw errors.forbidden(
      `You can only ${doing} members ranked below you: you are ${own} and they are ${targetRole}.`,
    );
}

/** A role given must be below the actor's own (so the OWNER may give anything below OWNER). */
function requireBelowOwn(actor: MembershipActor, role: string): void {
  rank(actor.scope, role); // an unknown role throws: a programmer error, whatever the bypass
  if (role === OWNER) throw ownerNeverGiven();
  if (actor.actorBypass) return;
  const own = requireSomeRole(actor);
  if (rank(actor.scope, role) >= rank(actor.scope, own))
    throw errors.forbidden(`You can only give ${actor.scope} roles below your own (${own}); ${role} is not.`);
}

/**
 * Changing a member's role. Order: newRole OWNER → 422; target is the OWNER → 409 OWNER_MUST_TRANSFER;
 * the actor does not outrank the target or newRole is not below the actor's own → 403 FORBIDDEN.
 */
export function checkRoleChange(input: MembershipActor & { targetRole: string; newRole: string }): void {
  rank(input.scope, input.targetRole); // unknown roles throw
  rank(input.scope, input.newRole);
  if (input.newRole === OWNER) throw ownerNeverGiven();
  if (input.targetRole === OWNER) throw ownerMustTransfer(input.scope, "keeps the owner's role");
  requireOutranks(input, input.targetRole, 'change the role of');
  requireBelowOwn(input, input.newRole);
}

/**
 * Removing a member, or leaving (`self`). The OWNER can do neither (409 OWNER_MUST_TRANSFER). Leaving is
 * allowed unless the org turned `allowSelfRemoval` off (the org OWNER bypass still may); removing
 * someone else needs to outrank them.
 */
export function checkRemoval(
  input: MembershipActor & { targetRole: string; self: boolean; allowSelfRemoval?: boolean },
): void {
  rank(input.scope, input.targetRole); // an unknown role throws
  if (input.targetRole === OWNER)
    throw ownerMustTransfer(input.scope, input.self ? 'cannot leave' : 'cannot be removed');
  if (input.self) {
    if (input.allowSelfRemoval === false && !input.actorBypass)
      throw errors.forbidden(
        'This organization does not allow members to leave on their own (allowSelfRemoval is off).',
      );
    return;
  }
  requireOutranks(input, input.targetRole, 'remove');
}

/** The role of an invitation or a direct add: below the actor's own, never OWNER. */
export function checkGrantedRole(input: MembershipActor & { role: string }): void {
  requireBelowOwn(input, input.role);
}

/** What the previous owner becomes after an ownership transfer. */
export function formerOwnerRole(scope: Scope): string {
  return scope === 'org' ? 'ADMIN' : 'MANAGER';
}
