import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeValue, encodeValue } from '../../schema/values.ts';

/** The naive model: a value is its JSON when it parses, its text when it is UTF-8, else base64. */
function naive(bytes: Uint8Array): unknown {
  const b = Buffer.from(bytes);
  const text = b.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(b)) return { base64: b.toString('base64') };
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

test('values: JSON comes back as written; text and bytes other clients wrote come back as text or base64, as the naive model says', () => {
  fc.assert(fc.property(fc.jsonValue(), (v) => assert.deepEqual(decodeValue(encodeValue(v)), naive(encodeValue(v)))));
  const nearJson = fc.oneof(
    fc.string(),
    fc.tuple(fc.json(), fc.constantFrom('', 'x', ' ', '}')).map(([j, tail]) => j + tail),
    fc.constantFrom('true', 'truex', ' null ', 'nul', '-', '-x', '[', '{', '"', '1e', ' 12 ', 'été'),
  );
  fc.assert(
    fc.property(nearJson, (s) => assert.deepEqual(decodeValue(Buffer.from(s, 'utf8')), naive(Buffer.from(s, 'utf8')))),
    { numRuns: 2000 },
  );
  fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (b) => assert.deepEqual(decodeValue(b), naive(b))), { numRuns: 2000 });
});
