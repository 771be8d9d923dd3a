import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { addedMentions, mentionedIds, mentionsIn } from '../src/mentions/mentions.ts';

test('mentions are the distinct <@uuid> ids in order of first appearance, lower-cased', () => {
  const [a, b] = [randomUUID(), randomUUID()];
  const body = `Hi <@${b}>, see <@${a.toUpperCase()}> and <@${b}> again; <@not-a-user> <@${a.slice(0, 30)}> @${a}`;
  assert.deepEqual(mentionedIds(body), [b, a]);
  assert.deepEqual(mentionedIds('no mentions here'), []);
  // Right length and alphabet, but not an RFC 9562 UUID (the events' schema would refuse it).
  assert.deepEqual(mentionedIds('<@12345678-1234-1234-1234-123456789012>'), []);
});

test('only mentioned users with access count, still in order', async () => {
  const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
  const allowed = new Set<string>([a, c]);
  const mentions = await mentionsIn(`<@${c}> <@${b}> <@${a}>`, async (id) => allowed.has(id));
  assert.deepEqual(mentions, [c, a]);
});

test('an edit adds only the users the previous version did not mention', () => {
  const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
  assert.deepEqual(addedMentions([a, b], [b, c, a]), [c]);
  assert.deepEqual(addedMentions([a], []), []);
});
