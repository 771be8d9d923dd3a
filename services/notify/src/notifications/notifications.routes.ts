import { z } from 'zod';
import { currentUser, limitSchema, type Route, route } from '@trellis/shared';
import { NOTIFICATION_TYPES } from './notification-types.ts';
import type { InboxService } from './notifications.service.ts';
import { preferencesPatchSchema, type PreferenceService } from './preferences.ts';

const tags = ['notifications'];

const notificationSchema = z
  .object({
    id: z.uuid(),
    type: z.enum(NOTIFICATION_TYPES),
    orgId: z.uuid().nullable(),
    title: z.string(),
    body: z.string(),
    subject: z.object({ kind: z.string(), id: z.string() }),
    actorId: z.uuid().nullable(),
    read: z.boolean(),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'Notification' });
const pageSchema = z.object({ items: z.array(notificationSchema), nextCursor: z.string().nullable() });
const switches = z.object(Object.fromEntries(NOTIFICATION_TYPES.map((t) => [t, z.boolean()])));
const preferencesSchema = z
  .object({ inApp: switches, email: switches })
  .meta({ id: 'NotificationPreferences' });

const listQuery = z.strictObject({
  /** `true` or `false`, as the document says (not zod's yes/on/1…, which no schema would state). */
  unread: z
    .enum(['true', 'false'])
    .transform((value) => value === 'true')
    .optional(),
  orgId: z.uuid().optional(),
  limit: limitSchema,
  cursor: z.string().min(1).max(500).optional(),
});
const idParams = z.strictObject({ id: z.uuid() });
const readAllBody = z.strictObject({ orgId: z.uuid().optional() }).default({});

export function notificationRoutes(inbox: InboxService, preferences: PreferenceService): Route[] {
  const me = (req: Parameters<typeof currentUser>[0]) => currentUser(req).id;
  return [
    route({
      method: 'get',
      path: '/api/v1/notifications',
      policy: 'self',
      summary: 'My notifications, newest first',
      tags,
      query: listQuery,
      responses: { 200: { description: 'A page of notifications', schema: pageSchema } },
      handle: async (req, res) => {
        res.json(await inbox.list(me(req), req.query));
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/notifications/unread-count',
      policy: 'self',
      summary: 'How many of my notifications are unread',
      tags,
      responses: { 200: { description: 'Unread count', schema: z.object({ count: z.number().int() }) } },
      handle: async (req, res) => {
        res.json(await inbox.unreadCount(me(req)));
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/notifications/read-all',
      policy: 'self',
      summary: 'Mark all my notifications read (of one org, if given)',
      tags,
      body: readAllBody,
      responses: {
        200: { description: 'How many changed', schema: z.object({ updated: z.number().int() }) },
      },
      handle: async (req, res) => {
        res.json(await inbox.markAllRead(me(req), req.body.orgId));
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/notifications/{id}/read',
      policy: 'self',
      summary: 'Mark one of my notifications read',
      tags,
      params: idParams,
      responses: {
        200: { description: 'The notification', schema: notificationSchema },
        404: { description: 'Not one of my notifications' },
      },
      handle: async (req, res) => {
        res.json(await inbox.markRead(me(req), String(req.params.id)));
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/notifications/preferences',
      policy: 'self',
      summary: 'My notification preferences (in-app and e-mail, per type)',
      tags,
      responses: { 200: { description: 'Preferences', schema: preferencesSchema } },
      handle: async (req, res) => {
        res.json(await preferences.of(me(req)));
      },
    }),
    route({
      method: 'put',
      path: '/api/v1/notifications/preferences',
      policy: 'self',
      summary: 'Switch notification types on or off; types not named keep their value',
      tags,
      body: preferencesPatchSchema,
      responses: { 200: { description: 'Preferences after the change', schema: preferencesSchema } },
      handle: async (req, res) => {
        res.json(await preferences.update(me(req), req.body));
      },
    }),
  ];
}
