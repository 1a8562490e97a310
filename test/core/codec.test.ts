import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeFrames, encodeFrame, isBadFrame, Writer, writeFrame } from '../../storage/protocol/codec.ts';
import type { Message } from '../../storage/protocol/messages.ts';
import type { Version } from '../../storage/core/siblings.ts';
import { createRing } from '../../storage/core/ring.ts';
import { ERROR_CODES, type ErrorCode } from '../../storage/core/errors.ts';

const actor = fc.stringMatching(/^[a-z0-9]{1,12}@[a-z0-9]{1,8}$/);
const counter = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
const vv = fc.uniqueArray(fc.tuple(actor, counter), { selector: (e) => e[0], maxLength: 6 }).map((e) => new Map(e));
const key = fc.string({ minLength: 1, maxLength: 60 }).filter((k) => k.isWellFormed());
const version: fc.Arbitrary<Version> = fc.record({
  dot: fc.record({ actor, counter }),
  past: vv,
  deleted: fc.boolean(),
  writtenAt: fc.integer({ min: 0, max: 2 ** 45 }),
  value: fc.uint8Array({ maxLength: 64 }),
});
const set = fc.array(version, { maxLength: 4 });
const node = fc.stringMatching(/^n[0-9]{1,3}$/);
const beat = fc.record({ node, generation: fc.nat(), beat: fc.nat(), life: fc.stringMatching(/^[a-z0-9]{8}$/) });
const q = fc.integer({ min: 0, max: 5 });
const errorReply = fc.record({
  type: fc.constant('error' as const),
  code: fc.constantFrom(...(Object.keys(ERROR_CODES) as ErrorCode[])),
  message: fc.string({ maxLength: 40 }),
  details: fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean())),
});

const message: fc.Arbitrary<Message> = fc.oneof(
  fc.constantFrom<Message>({ type: 'ping' }, { type: 'pong' }, { type: 'ring' }, { type: 'ack' }, { type: 'status' }),
  errorReply,
  fc.record({ type: fc.constant('get' as const), key, r: q, pr: q }),
  fc.record({ type: fc.constant('getReply' as const), replies: q, set }),
  fc.record({ type: fc.constant('mget' as const), keys: fc.array(key, { maxLength: 5 }), r: q, pr: q }),
  fc.record({ type: fc.constant('mgetReply' as const), items: fc.array(fc.oneof(fc.record({ type: fc.constant('getReply' as const), replies: q, set }), errorReply), { maxLength: 3 }) }),
  fc.record({ type: fc.constant('put' as const), key, value: fc.uint8Array({ maxLength: 64 }), deleted: fc.boolean(), context: fc.option(vv, { nil: null }), w: q, pw: q }),
  fc.record({ type: fc.constant('putReply' as const), acks: q, dot: fc.record({ actor, counter }), context: vv }),
  fc.record({ type: fc.constant('replicaRead' as const), key }),
  fc.record({ type: fc.constant('replicaReadReply' as const), set }),
  fc.record({ type: fc.constant('replicaWrite' as const), key, hintFor: fc.option(fc.stringMatching(/^n[0-9]{1,3}$/), { nil: null }), set }),
  fc.record({ type: fc.constant('hints' as const), owner: fc.option(fc.stringMatching(/^n[0-9]{1,3}$/), { nil: null }), limit: fc.nat() }),
  fc.record({ type: fc.constant('statusReply' as const), json: fc.json() }),
  fc.constant<Message>({ type: 'ringReply', n: 3, r: 2, w: 2, ring: createRing([{ id: 'a', address: '127.0.0.1:1', weight: 1 }, { id: 'b', address: '127.0.0.1:2', weight: 2 }], 8, 2) }),
  fc.record({ type: fc.constant('gossip' as const), cluster: node, from: node, digest: fc.record({ version: fc.nat(), hash: fc.stringMatching(/^[0-9a-f]{0,32}$/) }), beats: fc.array(beat, { maxLength: 4 }) }),
  fc.record({ type: fc.constant('lastBeat' as const), cluster: node, beat }),
  fc.record({ type: fc.constant('lastBeatReply' as const), beat: fc.option(beat, { nil: null }) }),
);

/** Values come back as Buffers and vectors as Maps: compare contents, not classes. */
const normalize = (m: unknown): unknown => {
  if (m instanceof Uint8Array) return [...m];
  if (m instanceof Map) return [...m].sort();
  if (Array.isArray(m)) return m.map(normalize);
  if (m && typeof m === 'object') return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, normalize(v)]));
  return m;
};

test('every message round-trips through the codec, several frames to one WebSocket message', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat({ max: 0xffffffff }), message), { minLength: 1, maxLength: 4 }), (frames) => {
      const w = new Writer();
      for (const [id, m] of frames) writeFrame(w, id, m);
      const decoded = decodeFrames(w.result());
      assert.equal(decoded.length, frames.length);
      decoded.forEach((d, i) => {
        assert.ok(!isBadFrame(d), isBadFrame(d) ? d.error.message : '');
        assert.equal(d.id, frames[i]![0]);
        assert.deepEqual(normalize(d.message), normalize(frames[i]![1]));
      });
    }),
    { numRuns: 500 },
  );
});

test('fuzz: random bytes and mutated frames never throw; each bad frame is reported, with its id when readable', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      for (const f of decodeFrames(Buffer.from(bytes))) if (isBadFrame(f)) assert.equal(f.error.name, 'StoreError');
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(message, fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 6 }), fc.nat(), (m, flips, cut) => {
      const bytes = Buffer.from(encodeFrame(7, m));
      for (const [at, v] of flips) bytes[at % bytes.length] = v;
      const truncated = bytes.subarray(0, bytes.length - (cut % 4));
      for (const f of decodeFrames(truncated)) {
        if (isBadFrame(f)) assert.ok(f.error.message.length > 0);
      }
    }),
    { numRuns: 2000 },
  );
});

test('specific malformed input gets specific errors', () => {
  const ok = encodeFrame(1, { type: 'get', key: 'k', r: 0, pr: 0 });
  const wrongVersion = Buffer.from(ok);
  wrongVersion[4] = 9;
  assert.match(bad(wrongVersion), /protocol version 9/);
  const unknownType = Buffer.from(ok);
  unknownType[5] = 250;
  assert.match(bad(unknownType), /unknown message type 250/);
  assert.match(bad(ok.subarray(0, 8)), /truncated/);
  const longKey = encodeFrame(1, { type: 'get', key: 'x'.repeat(2000), r: 0, pr: 0 });
  assert.match(bad(longKey), /key is 2000 bytes/);
  const loneSurrogate = Buffer.concat([ok.subarray(0, 10), Buffer.from([0, 3, 0xed, 0xa0, 0x80]), Buffer.from([0, 0])]);
  loneSurrogate.writeUInt32BE(loneSurrogate.length - 4, 0);
  assert.match(bad(loneSurrogate), /not valid UTF-8/);
  const trailing = Buffer.concat([ok, Buffer.from([0])]);
  assert.match(bad(trailing), /frame|truncated/);
});

function bad(buf: Buffer): string {
  const frames = decodeFrames(buf);
  const f = frames.find(isBadFrame);
  assert.ok(f, 'expected a bad frame');
  return f.error.message;
}
