import { currentUser, type Route, route } from '@trellis/shared';
import { profileSchema, updateMeBody, userIdParams, userSchema } from './users.schemas.ts';
import { etagOf, toUserView, type UserService } from './users.service.ts';

const tags = ['users'];

export function userRoutes(users: UserService): Route[] {
  return [
    route({
      method: 'get',
      path: '/api/v1/users/me',
      policy: 'self',
      summary: 'The signed-in user',
      tags,
      responses: { 200: { description: 'User (ETag)', schema: userSchema } },
      handle: async (req, res) => {
        const user = await users.requireActive(currentUser(req).id);
        res.set('ETag', etagOf(user)).json(toUserView(user));
      },
    }),
    route({
      method: 'patch',
      path: '/api/v1/users/me',
      policy: 'self',
      summary: 'Rename the signed-in user (honours If-Match)',
      tags,
      body: updateMeBody,
      responses: {
        200: { description: 'Updated user (ETag)', schema: userSchema },
        412: { description: 'If-Match does not match' },
      },
      handle: async (req, res) => {
        const user = await users.rename(currentUser(req), req.body.name, req.get('if-match'));
        res.set('ETag', etagOf(user)).json(toUserView(user));
      },
    }),
    route({
      method: 'delete',
      path: '/api/v1/users/me',
      policy: 'self',
      summary: 'Delete the account (refused while it owns an org)',
      tags,
      responses: {
        204: { description: 'Deleted; every session ended' },
        409: { description: 'The user owns an organization' },
      },
      handle: async (req, res) => {
        await users.remove(currentUser(req));
        res.status(204).end();
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/users/{id}',
      policy: 'access',
      summary: 'Profile of a user who shares an org with the caller',
      tags,
      params: userIdParams,
      responses: {
        200: { description: 'Profile', schema: profileSchema },
        404: { description: 'No such user, or no shared org' },
      },
      handle: async (req, res) => {
        res.json(await users.profile(currentUser(req).id, String(req.params.id)));
      },
    }),
  ];
}
