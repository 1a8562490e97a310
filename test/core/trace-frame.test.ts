// The trace extension of a request frame (protocol version 8): a W3C trace context after the
// header, flagged by bit 7 of the type byte; left out below version 8 and on replies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeFrames,
  encodeFrame,
  isBadFrame,
  isRequest,
  messageNeeds,
  PROTOCOL_MAX,
  PROTOCOL_MIN,
} from '../../client/src/protocol/codec.ts';
import type { Frame } from '../../client/src/protocol/messages.ts';
import { TRACE_BYTES, TRACE_SINCE, type TraceContext } from '../../client/src/protocol/trace-context.ts';
import { anyMessage, asOfVersion, normalize } from '../protocol/arbitraries.ts';

const trace: TraceContext = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', flags: 1 };
const hex = (n: number) =>
  fc
    .uint8Array({ minLength: n, maxLength: n })
    .filter((b) => b.some((x) => x !== 0))
    .map((b) => Buffer.from(b).toString('hex'));
const anyTrace = fc.record({ traceId: hex(16), spanId: hex(8), flags: fc.integer({ min: 0, max: 255 }) });

function decodeOne(buf: Buffer): Frame {
  const [frame, ...more] = decodeFrames(buf);
  assert.ok(frame && more.length === 0);
  assert.ok(!isBadFrame(frame), isBadFrame(frame) ? frame.error.message : '');
  return frame;
}

test('every request carries a trace context from version 8, and its message reads as without one', () => {
  fc.assert(
    fc.property(anyMessage.filter(isRequest), anyTrace, fc.nat({ max: 0xffffffff }), (m, t, id) => {
      const version = Math.max(TRACE_SINCE, messageNeeds(m));
      const frame = decodeOne(encodeFrame(id, m, version, t));
      assert.equal(frame.id, id);
      assert.deepEqual(frame.trace, { ...t });
      assert.deepEqual(normalize(frame.message), normalize(asOfVersion(m, version)));
      assert.equal(encodeFrame(id, m, version, t).length - encodeFrame(id, m, version).length, TRACE_BYTES);
    }),
    { numRuns: 200, seed: 8 },
  );
});

test('below version 8 and on replies the trace context is left out, so an older peer reads the frame as it always did', () => {
  for (let v = PROTOCOL_MIN; v < TRACE_SINCE; v++) {
    const buf = encodeFrame(1, { type: 'get', key: 'k', r: 0, pr: 0 }, v, trace);
    assert.deepEqual(buf, encodeFrame(1, { type: 'get', key: 'k', r: 0, pr: 0 }, v));
    assert.equal(decodeOne(buf).trace, undefined);
  }
  const reply = encodeFrame(2, { type: 'pong' }, PROTOCOL_MAX, trace);
  assert.deepEqual(reply, encodeFrame(2, { type: 'pong' }, PROTOCOL_MAX));
});

test('a flagged frame of an older version, a traced reply and an all-zero id are refused as malformed, under their request id', () => {
  const bad = (buf: Buffer) => {
    const [f] = decodeFrames(buf);
    assert.ok(f && isBadFrame(f));
    assert.equal(f.id, 7);
    return f.error.message;
  };
  const old = encodeFrame(7, { type: 'ping' }, TRACE_SINCE, trace);
  old[4] = TRACE_SINCE - 1;
  assert.match(bad(old), /unknown message type 130/);
  const reply = encodeFrame(7, { type: 'ping' }, TRACE_SINCE, trace);
  reply[5] = 3 | 0x80; // pong, flagged
  assert.match(bad(reply), /a pong is a reply and carries no trace context/);
  const zero = encodeFrame(7, { type: 'ping' }, TRACE_SINCE, trace);
  zero.fill(0, 10, 26);
  assert.match(bad(zero), /all-zero trace or span id/);
});
