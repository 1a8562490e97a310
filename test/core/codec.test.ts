import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { StoreError } from '../../client/src/core/errors.ts';
import {
  decodeFrames,
  encodeFrame,
  isBadFrame,
  isRequest,
  messageNeeds,
  messageSince,
  PROTOCOL_MAX,
  PROTOCOL_MIN,
  ProtocolError,
  Writer,
  writeFrame,
} from '../../client/src/protocol/codec.ts';
import { MESSAGE_TYPES, type Message, type MessageType } from '../../client/src/protocol/messages.ts';
import { Reader, Writer as WireWriter } from '../../client/src/protocol/wire.ts';
import { isUtf8 } from 'node:buffer';
import { anyMessage, arbitraries, asOfVersion, normalize } from '../protocol/arbitraries.ts';

const TYPES = Object.keys(MESSAGE_TYPES) as MessageType[];

/** A message and a protocol version it exists in. */
const atVersion = anyMessage.chain((m) =>
  fc.tuple(fc.constant(m), fc.integer({ min: Math.max(PROTOCOL_MIN, messageNeeds(m)), max: PROTOCOL_MAX })),
);

function roundTrip(m: Message, id: number, version: number): void {
  const [frame, ...more] = decodeFrames(encodeFrame(id, m, version));
  assert.ok(frame && more.length === 0);
  assert.ok(!isBadFrame(frame), isBadFrame(frame) ? `${m.type}: ${frame.error.message}` : '');
  assert.equal(frame.id, id);
  assert.deepEqual(normalize(frame.message), normalize(asOfVersion(m, version)));
}

test('every message type has a generator, and the registry numbers each type once', () => {
  assert.deepEqual(Object.keys(arbitraries).sort(), [...TYPES].sort());
  assert.equal(Object.keys(arbitraries).length, TYPES.length);
  assert.equal(new Set(Object.values(MESSAGE_TYPES)).size, TYPES.length);
  for (const type of TYPES) assert.ok(messageSince(type) <= PROTOCOL_MAX, type);
});

test('each message type round-trips through the codec at every version it exists in', () => {
  for (const type of TYPES) {
    fc.assert(
      fc.property(arbitraries[type], fc.nat({ max: 0xffffffff }), fc.integer({ min: PROTOCOL_MIN, max: PROTOCOL_MAX }), (m, id, v) =>
        roundTrip(m, id, Math.max(v, messageNeeds(m))),
      ),
      { numRuns: 40, seed: MESSAGE_TYPES[type] },
    );
  }
});

test('several frames to one WebSocket message decode in order', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat({ max: 0xffffffff }), atVersion), { minLength: 1, maxLength: 4 }), (frames) => {
      const w = new Writer();
      for (const [id, [m, v]] of frames) writeFrame(w, id, m, v);
      const decoded = decodeFrames(w.result());
      assert.equal(decoded.length, frames.length);
      decoded.forEach((d, i) => {
        assert.ok(!isBadFrame(d), isBadFrame(d) ? d.error.message : '');
        assert.equal(d.id, frames[i]![0]);
        assert.deepEqual(normalize(d.message), normalize(asOfVersion(frames[i]![1][0], frames[i]![1][1])));
      });
    }),
    { numRuns: 300 },
  );
});

test('fuzz: random bytes and mutated or truncated frames of every type never throw; each bad frame is a clean error', () => {
  const clean = (bytes: Buffer) => {
    for (const f of decodeFrames(bytes)) {
      if (!isBadFrame(f)) continue;
      assert.ok(f.error instanceof StoreError, String(f.error));
      assert.ok(f.error.message.length > 0);
    }
  };
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => clean(Buffer.from(bytes))),
    { numRuns: 1000 },
  );
  const flips = fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 6 });
  fc.assert(
    fc.property(atVersion, flips, fc.nat(), ([m, v], changes, cut) => {
      const bytes = Buffer.from(encodeFrame(7, m, v));
      for (const [at, x] of changes) bytes[at % bytes.length] = x;
      clean(bytes.subarray(0, bytes.length - (cut % 4)));
    }),
    { numRuns: 3000 },
  );
  // every type, truncated at every length: the payload's own reads are what must hold
  for (const type of TYPES) {
    for (const m of fc.sample<Message>(arbitraries[type], { seed: MESSAGE_TYPES[type], numRuns: 3 })) {
      const bytes = encodeFrame(9, m);
      for (let end = 10; end < bytes.length; end++) {
        const cut = Buffer.from(bytes.subarray(0, end));
        cut.writeUInt32BE(end - 4, 0);
        const [f] = decodeFrames(cut);
        assert.ok(f && isBadFrame(f) && f.id === 9, `${type} truncated to ${end} of ${bytes.length} bytes decoded`);
      }
    }
  }
});

test('requests and replies: isRequest knows every type', () => {
  const replies = TYPES.filter((t) => t === 'error' || t === 'pong' || t === 'ack' || t === 'conflict' || /Reply$|Batch$/.test(t));
  for (const type of TYPES) {
    const [m] = fc.sample<Message>(arbitraries[type], { seed: 1, numRuns: 1 });
    assert.equal(isRequest(m!), !replies.includes(type), type);
  }
});

test('a message type newer than the frame version is refused, on both sides, and the writer stays usable', () => {
  const w = new Writer();
  writeFrame(w, 1, { type: 'ping' }, 2);
  const before = w.length;
  assert.throws(
    () => writeFrame(w, 2, { type: 'inspect', key: 'k' }, 2),
    (e) => e instanceof ProtocolError && /inspect needs protocol version 3; this connection speaks version 2/.test(e.message),
  );
  assert.equal(w.length, before);
  writeFrame(w, 3, { type: 'compact', keys: [] }, 3);
  const frames = decodeFrames(w.result());
  assert.deepEqual(
    frames.map((f) => (isBadFrame(f) ? f.error.message : f.message.type)),
    ['ping', 'compact'],
  );
  // a version-2 frame carrying a version-3 type, as a peer that ignores the agreement would send
  const forged = encodeFrame(4, { type: 'quietKeys', partition: 1, limit: 2 }, 3);
  forged[4] = 2;
  assert.match(bad(forged), /message type 80 \(quietKeys\) does not exist in protocol version 2/);
  assert.throws(
    () => encodeFrame(1, { type: 'ping' }, PROTOCOL_MAX + 1),
    new RegExp(`protocol version ${PROTOCOL_MAX + 1} is not spoken here`),
  );
  assert.throws(() => encodeFrame(1, { type: 'ping' }, PROTOCOL_MIN - 1), /protocol version 1 is not spoken here/);
});

test('a decoder accepts the versions of its range and no other', () => {
  const v2 = encodeFrame(1, { type: 'ping' }, 2);
  const v3 = encodeFrame(1, { type: 'ping' }, 3);
  assert.equal(v2[4], 2);
  assert.equal(v3[4], 3);
  for (const f of [v2, v3]) assert.ok(!isBadFrame(decodeFrames(f)[0]!));
  assert.match(bad(v3, { min: 2, max: 2 }), /protocol version 3 is not supported \(this connection speaks version 2\)/);
  const v1 = Buffer.from(v2);
  v1[4] = 1;
  assert.match(bad(v1), new RegExp(`protocol version 1 is not supported \\(this connection speaks versions 2 to ${PROTOCOL_MAX}\\)`));
});

test('a put condition exists from version 4: refused by the writer below it, and by the reader in an older frame', () => {
  const plain = { type: 'put', key: 'k', value: new Uint8Array(0), deleted: false, context: null, w: 0, pw: 0 } as const;
  for (const condition of ['current', 'absent'] as const) {
    const m = { ...plain, condition };
    assert.equal(messageNeeds(m), 4);
    const w = new Writer();
    assert.throws(
      () => writeFrame(w, 1, m, 3),
      new RegExp(`this put needs protocol version 4 \\(a put with condition ${condition}\\); this connection speaks version 3`),
    );
    assert.equal(w.length, 0, 'nothing was written');
    // the same bytes with the frame's version byte set back to 3, as a peer ignoring the agreement would send
    const forged = encodeFrame(2, m, 4);
    forged[4] = 3;
    assert.match(bad(forged), new RegExp(`unknown put flags ${condition === 'current' ? 8 : 16}`));
  }
  assert.equal(messageNeeds(plain), 1);
  const both = encodeFrame(3, { ...plain, condition: 'current' }, 4);
  both[15] = both[15]! | 16; // the flags byte
  assert.match(bad(both), /a put has at most one condition/);
  assert.equal(messageSince('conflict'), 4);
});

test('a typed operation exists from version 6: refused by the writer below it and by the reader in an older frame; it comes alone', () => {
  const m = {
    type: 'put',
    key: 'k',
    value: new Uint8Array(0),
    deleted: false,
    context: null,
    w: 0,
    pw: 0,
    op: { type: 'counter', by: 3 },
  } as const;
  assert.equal(messageNeeds(m), 6);
  const w = new Writer();
  assert.throws(
    () => writeFrame(w, 1, m, 4),
    /this put needs protocol version 6 \(a counter operation\); this connection speaks version 4/,
  );
  assert.equal(w.length, 0, 'nothing was written');
  const forged = encodeFrame(2, m, 6);
  forged[4] = 4;
  assert.match(bad(forged), /unknown put flags 32/);
  const withDelete = encodeFrame(3, m, 6);
  withDelete[15] = withDelete[15]! | 1; // the flags byte
  assert.match(bad(withDelete), /a typed operation takes no delete, context or condition/);
  const garbled = encodeFrame(4, m, 6);
  garbled[garbled.length - 2] = 0x7b; // inside the operation's JSON
  assert.match(bad(garbled), /malformed typed operation/);
  assert.equal(messageSince('opReply'), 6);
});

test('heartbeats carry their lease from version 7; an older frame carries none, and a lease without an epoch is refused', () => {
  const beat = { node: 'n1', generation: 3, beat: 9, life: 'abcdefgh', lease: { epoch: 'e1', counter: 200_000 } };
  const m = {
    type: 'gossipReply',
    digest: { version: 1, hash: 'ff' },
    beats: [beat, { ...beat, node: 'n2', lease: undefined }],
    ring: null,
    wantRing: false,
  } as const;
  const at = (version: number) => {
    const [f] = decodeFrames(encodeFrame(1, m, version));
    assert.ok(f && !isBadFrame(f) && f.message.type === 'gossipReply');
    return f.message.beats;
  };
  assert.deepEqual(at(7)[0]!.lease, { epoch: 'e1', counter: 200_000 });
  assert.equal(at(7)[1]!.lease, undefined, 'a beat heard without a lease is passed on without one');
  assert.equal(at(6)[0]!.lease, undefined, 'a version-6 peer is sent no lease, and never a field it cannot read');
  // version 7 adds epoch str8 and counter u64 per beat: 1 + 2 + 8 bytes, and 1 + 0 + 8 for the one without a lease
  assert.equal(encodeFrame(1, m, 7).length - encodeFrame(1, m, 6).length, 11 + 9);
  // a lease counter with an empty epoch: the epoch field is the last str8 before the counter
  const forged = encodeFrame(2, { ...m, beats: [{ ...beat, lease: { epoch: '', counter: 5 } }] }, 7);
  assert.match(bad(forged), /a heartbeat leases counters without an epoch/);
});

test('a string on the wire reads as its UTF-8 decoding when its bytes are valid UTF-8, and is refused otherwise, at any length', () => {
  // mostly ASCII, with multi-byte characters, lone continuation bytes and surrogates' encodings
  const byte = fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xff }) },
    { weight: 1, arbitrary: fc.constantFrom(0x00, 0x7f, 0x80, 0xbf, 0xc2, 0xe2, 0xed, 0xf0, 0xff) },
  );
  const text = fc.oneof(
    fc.array(byte, { maxLength: 80 }).map((b) => Buffer.from(b)),
    fc.string({ unit: 'binary', maxLength: 40 }).map((s) => Buffer.from(s, 'utf8')),
  );
  fc.assert(
    fc.property(text, (bytes) => {
      const frame = Buffer.concat([Buffer.from([bytes.length]), bytes, Buffer.from([7])]);
      const r = new Reader(frame);
      if (isUtf8(bytes)) {
        assert.equal(r.str8(), bytes.toString('utf8'));
        assert.equal(r.u8(), 7, 'the reader stands after the string');
      } else {
        assert.throws(() => r.str8(), (e: unknown) => e instanceof ProtocolError && /not valid UTF-8/.test(e.message));
      }
    }),
    { numRuns: 5000 },
  );
});

test('a string is written as its UTF-8 bytes after their length, whatever came before it, for every length width', () => {
  const text = fc.oneof(
    fc.string({ maxLength: 20 }),
    fc.string({ unit: 'binary', maxLength: 20 }),
    fc.string({ unit: fc.constantFrom('a', 'é', '\ud800', '\u{1f600}', '\u0000', '\u007f', '\u0080'), maxLength: 14 }),
  );
  fc.assert(
    fc.property(fc.array(text, { minLength: 1, maxLength: 6 }), fc.nat(300), (strings, before) => {
      // a writer that starts small and has bytes already, so the strings' room is grown mid-way
      const w = new WireWriter(8);
      const expected: Buffer[] = [Buffer.alloc(before, 9)];
      w.bytes(expected[0]!);
      strings.forEach((s, i) => {
        const bytes = Buffer.from(s, 'utf8');
        const width = ([1, 2, 4] as const)[i % 3]!;
        const length = Buffer.alloc(width);
        length.writeUIntBE(bytes.length, 0, width);
        expected.push(length, bytes);
        if (width === 1) w.str8(s);
        else if (width === 2) w.str16(s);
        else w.str32(s);
      });
      assert.deepEqual(w.result(), Buffer.concat(expected));
    }),
    { numRuns: 3000 },
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
  const put = encodeFrame(1, { type: 'put', key: 'k', value: new Uint8Array(0), deleted: false, context: null, w: 0, pw: 0 });
  put[10 + 3 + 2] = 128; // the flags byte, after key (u16 length + 1 byte) and two quorums
  assert.match(bad(put), /unknown put flags 128/);
  const leaf = encodeFrame(1, { type: 'compact', keys: [{ key: 'k', leaf: new Uint8Array(16) }] });
  assert.match(bad(leaf.subarray(0, leaf.length - 1)), /frame length|truncated/);
  const shortLeaf = { type: 'compact', keys: [{ key: 'k', leaf: new Uint8Array(15) }] } as const;
  assert.throws(() => encodeFrame(1, shortLeaf), /a tree hash is 16 bytes, not 15/);
});

function bad(buf: Buffer, accept?: { min: number; max: number }): string {
  const frames = decodeFrames(buf, accept);
  const f = frames.find(isBadFrame);
  assert.ok(f, 'expected a bad frame');
  return f.error.message;
}

test('a TTL and an expiry time exist from version 8: refused by the writer below it and by the reader in an older frame', () => {
  const m = { type: 'put', key: 'k', value: Buffer.from('v'), deleted: false, context: null, w: 0, pw: 0, ttlSeconds: 30 } as const;
  assert.equal(messageNeeds(m), 8);
  const w = new Writer();
  assert.throws(() => writeFrame(w, 1, m, 7), /this put needs protocol version 8 \(a put with a TTL\); this connection speaks version 7/);
  assert.equal(w.length, 0, 'nothing was written');
  const forged = encodeFrame(2, m, 8);
  forged[4] = 7;
  assert.match(bad(forged), /unknown put flags 64/);
  // a TTL of 0, and a TTL on a delete, are refused by the reader
  const zero = encodeFrame(3, m, 8);
  zero.writeUInt32BE(0, 16); // the u32 after the flags byte (no context)
  assert.match(bad(zero), /a put's TTL is 0 s; it must be from 1 to 315360000/);
  const onDelete = encodeFrame(4, m, 8);
  onDelete[15] = onDelete[15]! | 1;
  assert.match(bad(onDelete), /a TTL is for a put of a value/);
  // a set holding a version with an expiry time is never sent to a peer of version 7
  const expiring = {
    dot: { actor: 'a@1', counter: 1 },
    past: new Map(),
    deleted: false,
    writtenAt: 1,
    value: Buffer.from('v'),
    expiresAt: 2,
  };
  const write = { type: 'replicaWrite', key: 'k', hintFor: null, set: [expiring] } as const;
  assert.equal(messageNeeds(write), 8);
  assert.throws(
    () => writeFrame(new Writer(), 1, write, 7),
    /this replicaWrite needs protocol version 8 \(a version with an expiry time\)/,
  );
  assert.equal(messageNeeds({ ...write, set: [{ ...expiring, expiresAt: undefined }] }), 1);
  const decoded = decodeFrames(encodeFrame(5, write, 8))[0]!;
  assert.ok(!isBadFrame(decoded) && decoded.message.type === 'replicaWrite' && decoded.message.set[0]!.expiresAt === 2);
});
