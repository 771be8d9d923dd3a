import { RecentLoads, upsertRetried } from '@trellis/shared';
import { z } from 'zod';
import {
  NOTIFICATION_TYPES,
  type NotificationType,
  type Preferences,
  type PreferencesModel,
} from './notification.model.ts';

export type Switches = Record<NotificationType, boolean>;

export interface PreferenceView {
  inApp: Switches;
  email: Switches;
}

/**
 * Defaults: every type in the inbox; by e-mail only what asks the user to act or is addressed to
 * them personally (an assignment, a mention, an invitation, an approval to decide).
 */
const EMAIL_BY_DEFAULT: ReadonlySet<NotificationType> = new Set([
  'task.assigned',
  'mention',
  'invitation.received',
  'approval.requested',
  'webhook.disabled',
]);

export function defaultPreferences(): PreferenceView {
  const all = (on: (type: NotificationType) => boolean) =>
    Object.fromEntries(NOTIFICATION_TYPES.map((type) => [type, on(type)])) as Switches;
  return { inApp: all(() => true), email: all((type) => EMAIL_BY_DEFAULT.has(type)) };
}

const switchesPatch = z.strictObject(
  Object.fromEntries(NOTIFICATION_TYPES.map((type) => [type, z.boolean().optional()])) as Record<
    NotificationType,
    z.ZodOptional<z.ZodBoolean>
  >,
);

/** PUT body: any subset of the types, per channel; unnamed types keep their current value. */
export const preferencesPatchSchema = z.strictObject({
  inApp: switchesPatch.optional(),
  email: switchesPatch.optional(),
});

export type PreferencesPatch = z.infer<typeof preferencesPatchSchema>;

// Types contain dots, which MongoDB reads as paths: stored keys use ':' instead.
const storedKey = (type: string) => type.replace('.', ':');
const fromStored = (switches: Record<string, boolean> | undefined) =>
  Object.fromEntries(Object.entries(switches ?? {}).map(([key, on]) => [key.replace(':', '.'), on]));

export class PreferenceService {
  private readonly model: PreferencesModel;

  /**
   * What deliveries read: a user's preferences, kept 5 s. A burst of events for one user reads them
   * once instead of once an event; a change made through another replica applies within 5 s (one
   * made through this one, at once). The API reads the store.
   */
  private readonly recent = new RecentLoads<PreferenceView>({ ttlMs: 5_000, maxEntries: 10_000 });

  constructor(model: PreferencesModel) {
    this.model = model;
  }

  forDelivery(userId: string): Promise<PreferenceView> {
    return this.recent.get(userId, () => this.of(userId));
  }

  async of(userId: string): Promise<PreferenceView> {
    const stored = await this.model.findById(userId).lean<Preferences>();
    const defaults = defaultPreferences();
    return {
      inApp: { ...defaults.inApp, ...fromStored(stored?.inApp) },
      email: { ...defaults.email, ...fromStored(stored?.email) },
    };
  }

  /** One single-document write: only the named switches change. */
  async update(userId: string, patch: PreferencesPatch): Promise<PreferenceView> {
    const set: Record<string, unknown> = { updatedAt: new Date() };
    for (const channel of ['inApp', 'email'] as const)
      for (const [type, on] of Object.entries(patch[channel] ?? {}))
        if (on !== undefined) set[`${channel}.${storedKey(type)}`] = on;
    await upsertRetried(() => this.model.updateOne({ _id: userId }, { $set: set }, { upsert: true }));
    this.recent.delete(userId);
    return this.of(userId);
  }
}
