// The document states every rule a 400 enforces (issue 21, npm run test:contract): for each input
// helper, the JSON Schema the document carries and the zod schema the service runs agree on
// samples around their edges — what one takes, the other takes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { z, type ZodType } from 'zod';
import {
  blankableText,
  emailAddress,
  isoDate,
  isoDateTime,
  patchBody,
  text,
  verbatimText,
} from '../src/index.ts';

const ajv = new Ajv2020({ strict: false, unicodeRegExp: true });

function agree(name: string, schema: ZodType, samples: unknown[]): void {
  const stated = ajv.compile(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }));
  for (const sample of samples) {
    assert.equal(
      stated(sample),
      schema.safeParse(sample).success,
      `${name}: the document and the service disagree on ${JSON.stringify(sample)}`,
    );
  }
}

const blanks = ['', ' ', '\t', '\n', '\u00a0', '\u2003', '\u3000', '\ufeff', '\u2028'];
const notBlanks = ['a', ' a ', '\u00a0x\u00a0', '\u001c', '\u0085', 'ab\u200b'];

test('text: not blank (the blanks trim removes, spelled out), length as sent', () => {
  agree('text(5)', text(5), [...blanks, ...notBlanks, 'abcde', 'abcdef', ' abcd ', '    a', 12]);
  assert.equal(text(5).parse('  ab '), 'ab');
});

test('blankableText and verbatimText', () => {
  agree('blankableText(3)', blankableText(3), [...blanks, ...notBlanks, 'abc', 'abcd', ' ab ']);
  agree('verbatimText(4)', verbatimText(4), [...blanks, ...notBlanks, 'abcd', 'abcde', ' ab ']);
  assert.equal(verbatimText(10).parse(' kept '), ' kept ');
});

test('e-mail addresses: the patterns are the rule', () => {
  agree('emailAddress', emailAddress(), [
    'ada@example.com',
    '  Ada@Example.com ',
    "o'neil+tag@mail.example.org",
    'a..b@example.com',
    '.a@example.com',
    'a.@example.com',
    'a@example',
    'a@-example.com',
    '@example.com',
    'a b@example.com',
    `${'c'.repeat(64)}@example.com`,
    `${'c'.repeat(65)}@example.com`,
    `${'b'.repeat(53)}@${'d'.repeat(63)}.${'d'.repeat(63)}.${'d'.repeat(63)}.example`,
    `${'b'.repeat(54)}@${'d'.repeat(63)}.${'d'.repeat(63)}.${'d'.repeat(63)}.example`,
  ]);
});

test('dates and times: years 1900–9999, offsets up to ±14:00', () => {
  agree('isoDate', isoDate(), [
    '1899-12-31',
    '1900-01-01',
    '2026-03-31',
    '2026-02-29',
    '2024-02-29',
    '9999-12-31',
    '0999-01-01',
  ]);
  agree('isoDateTime', isoDateTime(), [
    '2026-03-31T09:30:00Z',
    '2026-03-31T09:30:00.123+14:00',
    '2026-03-31T09:30:00-14:00',
    '2026-03-31T09:30:00+14:01',
    '2026-03-31T09:30:00+15:00',
    '1899-03-31T09:30:00Z',
    '2026-03-31',
  ]);
});

test('PATCH bodies: known fields only, at least one', () => {
  const body = patchBody({ name: text(10).optional(), note: blankableText(10).nullable().optional() });
  agree('patchBody', body, [
    {},
    { name: 'x' },
    { note: null },
    { other: 1 },
    { name: 'x', other: 1 },
    { name: ' ' },
  ]);
  assert.equal(z.toJSONSchema(body, { io: 'input' }).minProperties, 1);
});
