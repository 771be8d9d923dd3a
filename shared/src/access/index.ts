import type { Connection } from 'mongoose';
import type { MongoInbox } from '../events/mongo-inbox.ts';
import type { Subscription } from '../events/subscriptions.ts';
import { AccessReader } from './access.reader.ts';
import type { InternalClient } from './internal-client.ts';
import { projectionModels, type ProjectionModels } from './projection.models.ts';
import { projectionSubscriptions } from './projection.subscriptions.ts';
import { ProjectionWriter } from './projection.writer.ts';

export * from './access.reader.ts';
export * from './internal-client.ts';
export * from './projection.models.ts';
export * from './projection.writer.ts';
export * from './projection.subscriptions.ts';
export * from './projection.rules.ts';

export interface AccessProjection {
  models: ProjectionModels;
  writer: ProjectionWriter;
  reader: AccessReader;
  /** The projection's event subscriptions (inbox name `<name>-access`). */
  subscriptions(inbox: MongoInbox): Subscription[];
}

/** The authorization projection of a MongoDB service, on its own connection. */
export function accessProjection(deps: {
  connection: Connection;
  name: string;
  governance?: InternalClient;
  work?: InternalClient;
}): AccessProjection {
  const models = projectionModels(deps.connection);
  const writer = new ProjectionWriter(models);
  const reader = new AccessReader({ models, writer, governance: deps.governance, work: deps.work });
  return {
    models,
    writer,
    reader,
    subscriptions: (inbox) => projectionSubscriptions(writer, inbox, `${deps.name}-access`),
  };
}
