import { currentUser, type Route, route } from '@trellis/shared';
import { toUserView } from '../users/users.service.ts';
import {
  changePasswordBody,
  forgotPasswordBody,
  loginBody,
  logoutBody,
  refreshBody,
  registerBody,
  resetPasswordBody,
  sessionSchema,
  tokenPairSchema,
  verifyEmailBody,
} from './auth.schemas.ts';
import type { AuthService, Session } from './auth.service.ts';

const tags = ['auth'];
const sessionJson = ({ user, ...tokens }: Session) => ({ user: toUserView(user), ...tokens });

/** `/auth/*`: HTTP only — validated input in, a use case called, its result out. */
export function authRoutes(auth: AuthService): Route[] {
  return [
    route({
      method: 'post',
      path: '/api/v1/auth/register',
      summary: 'Create an account and sign in',
      tags,
      auth: false,
      body: registerBody,
      responses: {
        201: { description: 'Registered', schema: sessionSchema },
        400: { description: 'Invalid input' },
        409: { description: 'E-mail taken' },
      },
      handle: async (req, res) => {
        const session = await auth.register(req.body);
        res.status(201).location(`/api/v1/users/${session.user.id}`).json(sessionJson(session));
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/auth/login',
      summary: 'Sign in with e-mail and password',
      tags,
      auth: false,
      body: loginBody,
      responses: {
        200: { description: 'Signed in', schema: sessionSchema },
        401: { description: 'Wrong e-mail or password' },
        429: { description: 'Too many failed logins (Retry-After)' },
      },
      handle: async (req, res) => {
        res.json(sessionJson(await auth.login(req.body, req.ip)));
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/auth/refresh',
      summary: 'Rotate a refresh token for a new token pair',
      tags,
      auth: false,
      body: refreshBody,
      responses: {
        200: { description: 'New pair', schema: tokenPairSchema },
        401: { description: 'Invalid, expired or reused refresh token' },
      },
      handle: async (req, res) => {
        res.json(await auth.refresh(req.body.refreshToken));
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/auth/logout',
      policy: 'self',
      summary: 'Revoke the refresh-token family and the current access token',
      tags,
      // No Idempotency-Key: its body holds a token or a code (and the request is safe to repeat).
      idempotent: false,
      body: logoutBody,
      responses: { 204: { description: 'Signed out' } },
      handle: async (req, res) => {
        await auth.logout(currentUser(req), req.body.refreshToken);
        res.status(204).end();
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/auth/password/change',
      policy: 'self',
      summary: 'Change the password; other sessions are signed out',
      tags,
      // No Idempotency-Key: its fingerprint would be a hash of the passwords, kept for a day.
      idempotent: false,
      body: changePasswordBody,
      responses: {
        204: { description: 'Changed' },
        401: { description: 'Wrong current password' },
        429: { description: 'Too many wrong current passwords' },
      },
      handle: async (req, res) => {
        await auth.changePassword(currentUser(req), req.body.currentPassword, req.body.newPassword);
        res.status(204).end();
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/auth/password/forgot',
      summary: 'Mail a password-reset code (always 202)',
      tags,
      auth: false,
      body: forgotPasswordBody,
      responses: { 202: { description: 'Accepted' } },
      handle: async (req, res) => {
        await auth.forgotPassword(req.body.email);
        res.status(202).end();
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/auth/password/reset',
      summary: 'Set a new password with a reset code; every session ends',
      tags,
      auth: false,
      body: resetPasswordBody,
      responses: {
        204: { description: 'Password reset' },
        400: { description: 'Bad, expired or locked code' },
      },
      handle: async (req, res) => {
        await auth.resetPassword(req.body);
        res.status(204).end();
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/auth/email/verify/request',
      policy: 'self',
      summary: 'Mail an e-mail verification code',
      tags,
      responses: { 202: { description: 'Accepted' } },
      handle: async (req, res) => {
        await auth.requestEmailVerification(currentUser(req));
        res.status(202).end();
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/auth/email/verify',
      policy: 'self',
      summary: 'Verify the e-mail address with a code',
      tags,
      // No Idempotency-Key: its body holds a token or a code (and the request is safe to repeat).
      idempotent: false,
      body: verifyEmailBody,
      responses: {
        204: { description: 'Verified' },
        400: { description: 'Bad, expired or locked code' },
      },
      handle: async (req, res) => {
        await auth.verifyEmail(currentUser(req), req.body.code);
        res.status(204).end();
      },
    }),
  ];
}
