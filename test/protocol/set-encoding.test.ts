// A sibling set is encoded once: the bytes a set was read from, or first encoded to, are the
// bytes every later write of it gives (protocol/shapes.ts), as long as they are the canonical
// ones. These properties hold the shortcut to what a fresh encoding would write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { SiblingSet, Version } from '../../client/src/core/siblings.ts';
import { decodeSet, encodeSet, Reader, readSet, Writer, writeSet } from '../../client/src/protocol/codec.ts';

const actor = fc.stringMatching(/^[a-z0-9]{1,6}@[0-9]{1,2}$/);
const counter = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
/** vectors in any entry order: the encoder writes them in actor order */
const vv = fc.uniqueArray(fc.tuple(actor, counter), { selector: (e) => e[0], maxLength: 5 }).map((e) => new Map(e));
/** a version written with a TTL carries its expiry time (protocol version 8) */
const version: fc.Arbitrary<Version> = fc.record(
  {
    dot: fc.record({ actor, counter }),
    past: vv,
    deleted: fc.boolean(),
    writtenAt: fc.oneof(fc.integer({ min: 0, max: 2 ** 45 }), fc.constant(Number.NaN), fc.double()),
    value: fc.uint8Array({ maxLength: 40 }),
    expiresAt: fc.integer({ min: 0, max: 2 ** 45 }),
  },
  { requiredKeys: ['dot', 'past', 'deleted', 'writtenAt', 'value'] },
);
const set = fc.array(version, { maxLength: 4 });

/** What writeSet writes for a set nothing is known of: a copy of each version, so no encoding is kept on it. */
function fresh(s: SiblingSet): Buffer {
  const w = new Writer();
  writeSet(
    w,
    s.map((v) => ({ ...v, past: new Map(v.past) })),
  );
  return Buffer.from(w.result());
}

test('a set read from bytes, or encoded once, writes exactly what a fresh encoding of it writes', () => {
  fc.assert(
    fc.property(set, fc.uint8Array({ maxLength: 8 }), (s, before) => {
      const canonical = fresh(s);
      // encodeSet keeps what it wrote, and gives it again
      const encoded = encodeSet(s);
      assert.ok(Buffer.from(encoded).equals(canonical));
      assert.ok(Buffer.from(encodeSet(s)).equals(canonical));
      // a set decoded from any bytes, canonical or not, inside a larger buffer
      const w = new Writer();
      w.bytes(before);
      w.bytes(canonical);
      w.u8(7);
      const r = new Reader(w.result(), before.byteLength);
      const read = readSet(r);
      assert.equal(r.u8(), 7);
      const again = new Writer();
      writeSet(again, read);
      assert.ok(Buffer.from(again.result()).equals(fresh(read)));
      assert.ok(Buffer.from(encodeSet(decodeSet(canonical))).equals(fresh(read)));
    }),
    { numRuns: 500 },
  );
});

test('bytes that are not canonical (a vector out of actor order) are never passed on as they came, nor a NaN time', () => {
  const w = new Writer();
  w.u16(1);
  w.str8('a@1');
  w.u64(3);
  w.u8(2);
  w.str8('z@1');
  w.u64(1);
  w.str8('b@1');
  w.u64(2);
  w.u8(0);
  w.f64(5);
  w.blob(Buffer.from('v'));
  const unordered = Buffer.from(w.result());
  const read = decodeSet(unordered);
  const out = Buffer.from(encodeSet(read));
  assert.ok(!out.equals(unordered));
  assert.ok(out.equals(fresh(read)));
  assert.deepEqual([...decodeSet(out)[0]!.past.keys()], ['b@1', 'z@1']);

  const nan = fresh([{ dot: { actor: 'a@1', counter: 1 }, past: new Map(), deleted: false, writtenAt: 0, value: Buffer.from('v') }]);
  nan.writeUInt32BE(0x7ff80000, nan.byteLength - 4 - 1 - 8);
  nan.writeUInt32BE(0x00000001, nan.byteLength - 4 - 1 - 4);
  const readNan = decodeSet(nan);
  assert.ok(Number.isNaN(readNan[0]!.writtenAt));
  assert.ok(Buffer.from(encodeSet(readNan)).equals(fresh(readNan)));
});
