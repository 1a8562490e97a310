// The role table (client/src/auth/roles.ts) against the rules of issue 14, written out here as a
// naive model: a change to the table that breaks one of them fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ALLOWED, allowed, ROLES, type RequestType, type Role } from '../../client/src/auth/roles.ts';
import { isRequest, MESSAGE_TYPES, type Message, type MessageType } from '../../client/src/protocol/messages.ts';
import { arbitraries } from '../protocol/arbitraries.ts';
import fc from 'fast-check';

const REQUESTS = (Object.keys(MESSAGE_TYPES) as MessageType[]).filter((t) => {
  const [sample] = fc.sample(arbitraries[t] as fc.Arbitrary<Message>, { numRuns: 1, seed: 1 });
  return isRequest(sample!);
}) as RequestType[];

const CLIENT = ['hello', 'ping', 'ring', 'status', 'get', 'mget', 'put', 'watch'];
const REPAIR = [
  'hello',
  'ping',
  'ring',
  'status',
  'hints',
  'replicaWrite',
  'hintsRead',
  'hintsAck',
  'hintsExpired',
  'hintsDrop',
  'hintsFor',
  'merkleRoots',
  'merkleSegments',
  'segmentKeys',
  'keysRead',
  'keysMerge',
  'reclaim',
  'tombstones',
  'quietKeys',
  'compact',
];
const ADMIN = [...CLIENT, 'change', 'inspect', 'hints'];
const model: Record<Role, (t: RequestType) => boolean> = {
  client: (t) => CLIENT.includes(t),
  repair: (t) => REPAIR.includes(t),
  admin: (t) => ADMIN.includes(t),
  // a peer may send everything
  peer: () => true,
};

test('the table has a row for exactly the request types, and none of the replies', () => {
  assert.deepEqual(Object.keys(ALLOWED).sort(), [...REQUESTS].sort());
});

test('each role may send exactly what the model says', () => {
  for (const role of ROLES) for (const type of REQUESTS) assert.equal(allowed(role, type), model[role](type), `${role} ${type}`);
});

test('the boundaries of issue 14, spelled out', () => {
  for (const t of ['ringPush', 'replicaWrite', 'hintsDrop', 'reclaim', 'keysMerge', 'gossip', 'transferRead', 'change'] as const)
    assert.ok(!allowed('client', t), t);
  assert.ok(!allowed('admin', 'ringPush'));
  assert.ok(!allowed('admin', 'replicaWrite'));
  assert.ok(!allowed('repair', 'ringPush'));
  assert.ok(!allowed('repair', 'put'));
  assert.ok(!allowed('repair', 'change'));
  assert.ok(allowed('repair', 'replicaWrite'));
  assert.ok(allowed('admin', 'change'));
  assert.ok(allowed('peer', 'replicaWrite'));
});
