import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import type { EventEnvelope } from './envelope.ts';

/**
 * Applies `effect` at most once per (consumer, event id): the id is recorded in the same
 * transaction as the effect, so a redelivered event finds it and changes nothing.
 * Returns false when the event had already been handled.
 */
export async function handleOnce(
  sequelize: Sequelize,
  consumer: string,
  event: EventEnvelope,
  effect: (transaction: Transaction) => Promise<unknown>,
): Promise<boolean> {
  return sequelize.transaction(async (transaction) => {
    const inserted = await sequelize.query(
      `INSERT INTO inbox (consumer, event_id) VALUES (:consumer, :eventId)
       ON CONFLICT DO NOTHING RETURNING event_id`,
      { replacements: { consumer, eventId: event.id }, type: QueryTypes.SELECT, transaction },
    );
    if (inserted.length === 0) return false;
    await effect(transaction);
    return true;
  });
}
