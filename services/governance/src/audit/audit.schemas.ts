import { isoDateTime, limitSchema } from '@trellis/shared';
import { z } from 'zod';

export const auditQuery = z.object({
  actorId: z.uuid().optional(),
  type: z.string().min(1).max(100).optional(),
  subjectId: z.string().min(1).max(200).optional(),
  from: isoDateTime().optional(),
  to: isoDateTime().optional(),
  limit: limitSchema,
  cursor: z.string().max(200).optional(),
});

export const auditEntrySchema = z
  .object({
    seq: z.number().int(),
    id: z.uuid(),
    occurredAt: z.string(),
    actorId: z.uuid().nullable(),
    type: z.string(),
    subjectId: z.string(),
    summary: z.string(),
    data: z.unknown(),
    hash: z.string(),
    prevHash: z.string(),
  })
  .meta({ id: 'AuditEntry' });

export const auditPageSchema = z.object({
  items: z.array(auditEntrySchema),
  nextCursor: z.string().nullable(),
});

export const verifySchema = z
  .object({
    ok: z.boolean(),
    checked: z.number().int(),
    firstBrokenSeq: z.number().int().optional(),
  })
  .meta({ id: 'AuditVerification' });
