// Version 2's bytes, frozen: frames-v2.json holds frames that the codec wrote before its
// messages were split into per-type entries (see capture-frames.ts). Every existing message
// must still encode to exactly those bytes and decode back to the message it came from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { decodeFrames, encodeFrame, isBadFrame, messageSince } from '../../client/src/protocol/codec.ts';
import { MESSAGE_TYPES, type MessageType } from '../../client/src/protocol/messages.ts';
import { normalize } from './arbitraries.ts';
import { fromJson, type Fixture } from './fixture-json.ts';

const fixture = JSON.parse(readFileSync(new URL('./frames-v2.json', import.meta.url), 'utf8')) as Fixture;

test('the fixture covers every message type that version 2 has', () => {
  assert.equal(fixture.protocolVersion, 2);
  const covered = new Set(fixture.frames.map((f) => fromJson(f.message).type));
  const v2 = (Object.keys(MESSAGE_TYPES) as MessageType[]).filter((t) => messageSince(t) <= 2);
  assert.deepEqual([...covered].sort(), v2.sort());
});

test('every version-2 message encodes to the same bytes as before, and decodes back', () => {
  for (const { id, message: json, hex } of fixture.frames) {
    const message = fromJson(json);
    assert.equal(encodeFrame(id, message, 2).toString('hex'), hex, `${message.type} (frame ${id}) encodes differently`);
    const [frame, ...more] = decodeFrames(Buffer.from(hex, 'hex'));
    assert.ok(frame && more.length === 0);
    assert.ok(!isBadFrame(frame), isBadFrame(frame) ? `${message.type}: ${frame.error.message}` : '');
    assert.equal(frame.id, id);
    assert.deepEqual(normalize(frame.message), normalize(message));
  }
});
