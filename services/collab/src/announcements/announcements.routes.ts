import { etagOf, route } from '@trellis/shared';
import type { Route } from '@trellis/shared';
import { callerOf } from '../access/access.ts';
import {
  announcementIdParams,
  announcementListQuery,
  announcementPageSchema,
  announcementSchema,
  createAnnouncementBody,
  readReceiptSchema,
  readsSchema,
  updateAnnouncementBody,
} from './announcements.schemas.ts';
import type { AnnouncementService } from './announcements.service.ts';

const tags = ['announcements'];
const notFound = { description: 'No such announcement, deleted, or not a member of its org' };
const denied = { description: 'POLICY_DENIED' };

export function announcementRoutes(announcements: AnnouncementService): Route[] {
  const id = (req: { params: Record<string, unknown> }) => String(req.params.id);
  return [
    route({
      method: 'post',
      path: '/api/v1/announcements',
      policy: { scope: 'org', action: 'announcement.post' },
      summary: 'Post an announcement to an org (org policy announcement.post)',
      tags,
      body: createAnnouncementBody,
      responses: {
        201: { description: 'Created announcement (Location, ETag)', schema: announcementSchema },
        403: denied,
        404: { description: 'Not a member of the org' },
      },
      handle: async (req, res) => {
        const announcement = await announcements.create(callerOf(req), req.body);
        res
          .status(201)
          .location(`/api/v1/announcements/${announcement.id}`)
          .set('ETag', etagOf(announcement))
          .json(announcement);
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/announcements',
      policy: 'access',
      summary: "An org's announcements: pinned first, then newest; keyset-paginated",
      tags,
      query: announcementListQuery,
      responses: {
        200: { description: 'Page of announcements', schema: announcementPageSchema },
        404: { description: 'Not a member of the org' },
      },
      handle: async (req, res) => {
        res.json(await announcements.list(callerOf(req), req.query));
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/announcements/{id}',
      policy: 'access',
      summary: 'An announcement',
      tags,
      params: announcementIdParams,
      responses: { 200: { description: 'Announcement (ETag)', schema: announcementSchema }, 404: notFound },
      handle: async (req, res) => {
        const announcement = await announcements.get(callerOf(req), id(req));
        res.set('ETag', etagOf(announcement)).json(announcement);
      },
    }),
    route({
      method: 'patch',
      path: '/api/v1/announcements/{id}',
      policy: { scope: 'org', action: 'announcement.update' },
      summary: 'Edit an announcement (its author or org ADMIN+; If-Match)',
      tags,
      params: announcementIdParams,
      body: updateAnnouncementBody,
      responses: {
        200: { description: 'Announcement (ETag)', schema: announcementSchema },
        403: denied,
        404: notFound,
        412: { description: 'If-Match does not match' },
      },
      handle: async (req, res) => {
        const announcement = await announcements.update(
          callerOf(req),
          id(req),
          req.body,
          req.get('if-match'),
        );
        res.set('ETag', etagOf(announcement)).json(announcement);
      },
    }),
    route({
      method: 'delete',
      path: '/api/v1/announcements/{id}',
      policy: { scope: 'org', action: 'announcement.delete' },
      summary: 'Delete an announcement (its author or org ADMIN+; soft)',
      tags,
      params: announcementIdParams,
      responses: { 204: { description: 'Deleted' }, 403: denied, 404: notFound },
      handle: async (req, res) => {
        await announcements.remove(callerOf(req), id(req));
        res.status(204).end();
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/announcements/{id}/read',
      policy: 'access',
      summary: 'Mark an announcement read (idempotent; the first readAt stays)',
      tags,
      params: announcementIdParams,
      responses: { 200: { description: 'Read receipt', schema: readReceiptSchema }, 404: notFound },
      handle: async (req, res) => {
        res.json(await announcements.markRead(callerOf(req), id(req)));
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/announcements/{id}/reads',
      policy: { scope: 'org', action: 'announcement.readReceipts' },
      summary: 'Read receipts among current org members (org ADMIN+)',
      tags,
      params: announcementIdParams,
      responses: { 200: { description: 'Read receipts', schema: readsSchema }, 403: denied, 404: notFound },
      handle: async (req, res) => {
        res.json(await announcements.reads(callerOf(req), id(req)));
      },
    }),
  ];
}
