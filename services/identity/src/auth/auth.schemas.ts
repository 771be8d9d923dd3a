import { z } from 'zod';
import { emailSchema, nameSchema, userSchema } from '../users/users.schemas.ts';

/** New passwords: 8–128 characters (product.md §7). */
const newPassword = z.string().min(8).max(128);
/** Presented passwords are only bounded, so hashing cannot be abused with huge inputs. */
const presentedPassword = z.string().min(1).max(128);
const refreshToken = z.string().min(1).max(256);
const code = z.string().regex(/^\d{6}$/, 'Expected a 6-digit code');

export const registerBody = z.object({ email: emailSchema, password: newPassword, name: nameSchema });
export const loginBody = z.object({ email: emailSchema, password: presentedPassword });
export const refreshBody = z.object({ refreshToken });
export const logoutBody = z.object({ refreshToken });
export const changePasswordBody = z.object({ currentPassword: presentedPassword, newPassword });
export const forgotPasswordBody = z.object({ email: emailSchema });
export const resetPasswordBody = z.object({ email: emailSchema, code, newPassword });
export const verifyEmailBody = z.object({ code });

export const tokenPairSchema = z
  .object({
    accessToken: z.string(),
    refreshToken: z.string(),
    expiresIn: z.number().int(),
  })
  .meta({ id: 'TokenPair' });
export const sessionSchema = tokenPairSchema.extend({ user: userSchema });
