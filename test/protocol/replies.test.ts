// The table of which replies answer each request (storage/protocol/replies.ts) against the
// codec's registry, and the one check every caller makes of a reply (storage/call.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expectReply, ReplyError } from '../../client/src/call.ts';
import { StoreError } from '../../client/src/core/errors.ts';
import { isRequest, MESSAGE_TYPES, type Message, type MessageType, type Reply } from '../../client/src/protocol/messages.ts';
import { REPLIES } from '../../client/src/protocol/replies.ts';

const TYPES = Object.keys(MESSAGE_TYPES) as MessageType[];
const requestType = (type: MessageType) => isRequest({ type } as Message);

test('every request type has a row naming the replies that answer it, and every reply but error answers some request', () => {
  assert.deepEqual(Object.keys(REPLIES).sort(), TYPES.filter(requestType).sort());
  const answering = new Set<string>(Object.values(REPLIES).flat());
  for (const reply of answering) {
    assert.ok(TYPES.includes(reply as MessageType) && !requestType(reply as MessageType), `${reply} is a reply type`);
  }
  assert.deepEqual(TYPES.filter((t) => !requestType(t) && !answering.has(t)), ['error']);
});

test('a reply that answers the request is returned as it is; any of a put\'s three answers is one', () => {
  const pong: Reply = { type: 'pong' };
  assert.equal(expectReply('n1', { type: 'ping' }, pong), pong);
  const put = { type: 'put', key: 'k', value: new Uint8Array(0), deleted: false, context: null, w: 0, pw: 0 } as const;
  const answers: Reply[] = [
    { type: 'conflict', set: [] },
    { type: 'opReply', acks: 1, dot: { actor: 'a', counter: 1 }, context: new Map(), state: new Uint8Array(0) },
  ];
  for (const reply of answers) {
    assert.equal(expectReply('n1', put, reply), reply);
  }
});

test('an error reply is thrown as a ReplyError with its code and details, its message naming the node', () => {
  const refused: Reply = { type: 'error', code: 'STALE_RING', message: 'ring version 3, not 4', details: { applied: false } };
  const thrown = (() => {
    try {
      expectReply('n2', { type: 'hints', owner: null, limit: 10 }, refused);
    } catch (e) {
      return e;
    }
    assert.fail('an error reply was returned');
  })();
  assert.ok(thrown instanceof ReplyError && thrown instanceof StoreError);
  assert.equal(thrown.code, 'STALE_RING');
  assert.equal(thrown.message, 'n2: ring version 3, not 4');
  assert.deepEqual(thrown.details, { applied: false });
  assert.equal(thrown.node, 'n2');
  assert.equal(thrown.reply, refused);
});

test('a reply of another type is thrown as PROTOCOL, naming the node, the request and the reply', () => {
  assert.throws(
    () => expectReply('n3', { type: 'status' }, { type: 'ack' }),
    (e: unknown) => e instanceof ReplyError && e.code === 'PROTOCOL' && e.message === 'n3 answered status with ack',
  );
});
