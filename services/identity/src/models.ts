import type { Sequelize } from 'sequelize';
import { defineCodeModel } from './codes/codes.model.ts';
import { defineSigningKeyModel } from './keys/keys.model.ts';
import { defineOrgModels } from './orgs/orgs.model.ts';
import { defineSessionModels } from './sessions/sessions.model.ts';
import { defineUserModel } from './users/users.model.ts';

/** Every identity model bound to one connection (no I/O: `define` only registers them). */
export function defineModels(sequelize: Sequelize) {
  return {
    User: defineUserModel(sequelize),
    ...defineSessionModels(sequelize),
    OneTimeCode: defineCodeModel(sequelize),
    SigningKey: defineSigningKeyModel(sequelize),
    ...defineOrgModels(sequelize),
  };
}

export type Models = ReturnType<typeof defineModels>;
