import { z } from 'zod';

export const emailSchema = z.email().max(254).toLowerCase();
export const nameSchema = z.string().trim().min(1).max(100);

export const userSchema = z.object({
  id: z.uuid(),
  email: z.email(),
  name: z.string(),
  emailVerified: z.boolean(),
  createdAt: z.iso.datetime(),
});
export type UserView = z.infer<typeof userSchema>;

export const profileSchema = z.object({ id: z.uuid(), name: z.string(), email: z.email() });

export const updateMeBody = z.object({ name: nameSchema });
export const userIdParams = z.object({ id: z.uuid() });
