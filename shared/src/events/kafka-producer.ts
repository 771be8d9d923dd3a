// The event bus's publishing side: coalesced sends through one idempotent producer.
import { Partitioners, type Message, type Producer } from 'kafkajs';
import type { EventEnvelope } from './envelope.ts';
import { produceSpans, type TraceCarrier } from '../observability/tracing.ts';
import { EventBusAdmin } from './kafka-admin.ts';

/** A cap on one coalesced produce request (the broker refuses requests over its size limit). */
const MAX_EVENTS_PER_REQUEST = 500;

/** `trace`: the context the event is published in (an outbox row's), continued by its consumers. */
type OutgoingEvent = { topic: string; event: EventEnvelope; trace?: TraceCarrier | undefined };

interface PendingPublish {
  events: OutgoingEvent[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Publishing, on top of the admin side; the consumers (kafka-consumer.ts) extend it for dead letters. */
export class EventBusProducer extends EventBusAdmin {
  protected producer: Producer | undefined;
  private readonly outgoing: PendingPublish[] = [];
  protected sending: Promise<void> | undefined;

  /**
   * Publishes envelopes (already validated at creation) with an idempotent producer: the broker
   * drops retried duplicates. Key = subject id, so one aggregate's events stay ordered.
   * The producer has one request in flight at a time; publishes asked for meanwhile go out
   * together in the next request, in the order they were asked for (fewer round trips under load).
   */
  publish(events: OutgoingEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.outgoing.push({ events, resolve, reject });
      this.sending ??= this.sendOutgoing();
    });
  }

  /** Sends what is waiting, a request at a time, until nothing is; each caller learns its request's fate. */
  private async sendOutgoing(): Promise<void> {
    while (this.outgoing.length > 0) {
      const batch = this.takeOutgoing();
      try {
        await this.send(batch.flatMap((p) => p.events));
        for (const p of batch) p.resolve();
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
    // In the same tick as the last check: a publish arriving after it starts a new loop.
    this.sending = undefined;
  }

  /** The oldest waiting publishes, up to MAX_EVENTS_PER_REQUEST events (always at least one). */
  private takeOutgoing(): PendingPublish[] {
    let count = 0;
    let take = 0;
    for (const pending of this.outgoing) {
      if (take > 0 && count + pending.events.length > MAX_EVENTS_PER_REQUEST) break;
      count += pending.events.length;
      take += 1;
    }
    return this.outgoing.splice(0, take);
  }

  private async send(events: OutgoingEvent[]): Promise<void> {
    const producer = await this.connectedProducer();
    const byTopic = new Map<string, Message[]>();
    const traced: Parameters<typeof produceSpans>[0] = [];
    for (const { topic, event, trace } of events) {
      const messages = byTopic.get(topic) ?? [];
      const headers: Record<string, string> = {
        'event-id': event.id,
        'event-type': event.type,
        ...(event.correlationId ? { 'correlation-id': event.correlationId } : {}),
      };
      if (trace) traced.push({ topic, eventId: event.id, trace, headers });
      messages.push({ key: event.subjectId, value: JSON.stringify(event), headers });
      byTopic.set(topic, messages);
    }
    const endSpans = produceSpans(traced);
    try {
      await producer.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic: this.topic(topic), messages })),
      });
      endSpans();
    } catch (err) {
      endSpans(err);
      // A fresh producer (a new producer id) for the next try: after a broker crash, an idempotent
      // producer's sequence numbers may no longer match the log's, and it would fail every send.
      if (this.producer === producer) this.producer = undefined;
      void producer.disconnect().catch(() => undefined);
      throw err;
    }
  }

  protected async connectedProducer(): Promise<Producer> {
    if (!this.producer) {
      const producer = this.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await producer.connect();
      this.producer = producer;
    }
    return this.producer;
  }
}
