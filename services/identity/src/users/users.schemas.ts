import { z } from 'zod';
import { emailAddress, text } from '@trellis/shared';

/** Accounts are found by their address lower-cased. */
export const emailSchema = emailAddress().transform((value) => value.toLowerCase());
export const nameSchema = text(100);

export const userSchema = z
  .object({
    id: z.uuid(),
    email: z.email(),
    name: z.string(),
    emailVerified: z.boolean(),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'User' });
export type UserView = z.infer<typeof userSchema>;

export const profileSchema = z
  .object({ id: z.uuid(), name: z.string(), email: z.email() })
  .meta({ id: 'UserProfile' });

export const updateMeBody = z.object({ name: nameSchema });
export const userIdParams = z.object({ id: z.uuid() });
