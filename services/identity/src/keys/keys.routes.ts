import { route, type Route } from '@trellis/shared';
import { jwksSchema } from './keys.schemas.ts';
import type { KeyStore } from './keys.service.ts';

export function keyRoutes(keys: KeyStore): Route[] {
  return [
    route({
      method: 'get',
      path: '/api/v1/auth/jwks',
      summary: 'Public keys that verify access tokens (current and previous)',
      tags: ['auth'],
      auth: false,
      responses: { 200: { description: 'JWKS', schema: jwksSchema } },
      handle: async (_req, res) => {
        // Short cache: verifiers refetch on an unknown kid anyway.
        res.set('Cache-Control', 'public, max-age=300').json(await keys.jwks());
      },
    }),
  ];
}
