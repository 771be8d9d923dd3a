// A consumer handles each event in the context of the request it came from: the handler's log lines
// and the events it writes carry that request's id, so one id follows a user action across hops.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import {
  createEvent,
  createLogger,
  currentRequestContext,
  requestIdMixin,
  runWithRequestContext,
  type EventBus,
  type EventEnvelope,
} from '../src/index.ts';
import { testBus, testKafka, waitFor } from '../src/testing/index.ts';
import { TEST_TOPIC, noted } from './fixtures/test-events.ts';

const logger = createLogger('context-test', process.env.TEST_LOG_LEVEL ?? 'silent');
const kafka = testKafka('context');
let bus: EventBus;

before(async () => {
  bus = await testBus(kafka, 'context-test', logger, [TEST_TOPIC]);
});

after(async () => {
  await bus.close();
});

test("a handler runs under its event's request id; what it logs and writes carries it", async () => {
  // One event written while a request is served, one written outside any request.
  const fromRequest = runWithRequestContext({ requestId: 'req-from-client-1' }, () =>
    createEvent(noted, 'test', { subjectId: 'a', data: { n: 1, note: '' } }),
  );
  const fromJob = createEvent(noted, 'test', { subjectId: 'b', data: { n: 2, note: '' } });
  assert.equal(fromRequest.correlationId, 'req-from-client-1');
  assert.equal(fromJob.correlationId, null);
  await bus.publish([fromRequest, fromJob].map((event) => ({ topic: TEST_TOPIC, event })));

  const lines: string[] = [];
  const handlerLog = pino({ mixin: requestIdMixin }, { write: (line: string) => void lines.push(line) });
  const seen = new Map<string, { context: string | undefined; derived: EventEnvelope }>();
  const consumer = await bus.consume({
    groupId: kafka.groupId('context'),
    topics: [TEST_TOPIC],
    handle: async ({ event }) => {
      const derived = createEvent(noted, 'test', {
        subjectId: event.subjectId,
        data: { n: 0, note: 'derived' },
      });
      seen.set(event.id, { context: currentRequestContext()?.requestId, derived });
      handlerLog.info({ eventId: event.id }, 'handled');
    },
  });
  await consumer.ready;
  await waitFor(() => seen.size === 2, { what: 'both events handled' });
  await consumer.stop();

  assert.equal(seen.get(fromRequest.id)?.context, 'req-from-client-1');
  assert.equal(seen.get(fromRequest.id)?.derived.correlationId, 'req-from-client-1');
  // An event of no request continues under its own id.
  assert.equal(seen.get(fromJob.id)?.context, fromJob.id);
  assert.equal(seen.get(fromJob.id)?.derived.correlationId, fromJob.id);
  const logged = lines.map((line) => JSON.parse(line) as { eventId: string; requestId?: string });
  assert.equal(logged.find((l) => l.eventId === fromRequest.id)?.requestId, 'req-from-client-1');
  assert.equal(logged.find((l) => l.eventId === fromJob.id)?.requestId, fromJob.id);
  // Outside any request or event, a line names none.
  handlerLog.info('idle');
  assert.equal((JSON.parse(lines.at(-1)!) as { requestId?: string }).requestId, undefined);
});
