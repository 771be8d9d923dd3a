import { z } from 'zod';

export const jwksSchema = z
  .object({
    keys: z.array(
      z.object({
        kid: z.string(),
        kty: z.literal('RSA'),
        n: z.string(),
        e: z.string(),
        alg: z.literal('RS256'),
        use: z.literal('sig'),
      }),
    ),
  })
  .meta({ id: 'Jwks' });
