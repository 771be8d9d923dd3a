// The Kafka event bus services publish and consume through: `EventBus` and its public types.
import { EventBusConsumers } from './kafka-consumer.ts';

export { routeByType } from './kafka-consumer.ts';
export type {
  CommittingGroup,
  ConsumedEvent,
  ConsumerObserver,
  ConsumerOptions,
  EventBusSettings,
  EventConsumer,
  EventHandler,
  GroupMembership,
} from './kafka-types.ts';

/**
 * The only door to Kafka: services publish envelopes and consume them through this, never kafkajs
 * directly, so retries, DLQ, validation and naming live in one place.
 */
export class EventBus extends EventBusConsumers {
  async close(): Promise<void> {
    await this.stopConsumers();
    await this.sending;
    await this.producer?.disconnect();
    await this.admin?.disconnect();
    this.producer = undefined;
    this.admin = undefined;
  }
}
