// Typed values in the simulator: operations applied by each key's coordinator, concurrent
// ones through coordinators cut off from each other kept as siblings, joined on read, and
// collapsed by the next operation; anti-entropy brings every replica to the same bytes
// without making a version. docs/types.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimCluster } from './cluster.ts';
import { decodeTyped } from '../../client/src/core/crdt/codec.ts';
import { counterValue } from '../../client/src/core/crdt/counter.ts';
import { members } from '../../client/src/core/crdt/orswot.ts';
import { joinSiblings, type TypedOp } from '../../client/src/core/crdt/typed.ts';
import { encodeSet } from '../../client/src/protocol/codec.ts';
import type { SiblingSet } from '../../client/src/core/siblings.ts';
import type { Reply } from '../../client/src/protocol/messages.ts';

const KEY = 'likes';

async function setup(seed: number) {
  const c = await SimCluster.create({ seed, nodes: 5, localHandoffEveryMs: 0 });
  await c.scheduler.runUntil(() => c.running().every((n) => n.status().identityConfirmed), 10_000, 'nodes confirmed');
  const view = c.node('n1').view;
  const [p1, p2, p3] = view.primaries(view.partitionOf(KEY)) as [string, string, string];
  const op = (client: string, to: string, o: TypedOp, w = 2): Promise<Reply> =>
    c.client(client).request(to, { type: 'put', key: KEY, value: new Uint8Array(0), deleted: false, context: null, w, pw: 0, op: o }, 3000);
  const get = async (to: string): Promise<SiblingSet> => {
    const reply = await c.scheduler.drive(c.client('reader').request(to, { type: 'get', key: KEY, r: 3, pr: 0 }, 3000));
    assert.equal(reply.type, 'getReply', JSON.stringify(reply));
    return reply.type === 'getReply' ? reply.set : [];
  };
  return { c, p1, p2, p3, op, get };
}

const incr = (by: number): TypedOp => ({ type: 'counter', by });
const count = (set: SiblingSet) => {
  const t = joinSiblings(KEY, set, 'counter');
  return t?.type === 'counter' ? counterValue(t.state) : 0;
};
const answered = (r: Reply) => {
  assert.equal(r.type, 'opReply', JSON.stringify(r));
  const t = r.type === 'opReply' ? decodeTyped(r.state) : null;
  return t?.type === 'counter' ? counterValue(t.state) : t?.type === 'set' ? members(t.state) : null;
};

test('increments through one coordinator answer the running count and leave one version', async () => {
  const { c, p1, op, get } = await setup(71);
  for (let i = 1; i <= 5; i++) assert.equal(answered(await c.scheduler.drive(op('a', p1, incr(i)))), (i * (i + 1)) / 2);
  const set = await get(p1);
  assert.equal(set.length, 1);
  assert.equal(count(set), 15);
});

test('concurrent increments through coordinators cut off from each other all count: siblings, joined on read, collapsed by the next increment', async () => {
  const { c, p1, p2, p3, op, get } = await setup(72);
  assert.equal(answered(await c.scheduler.drive(op('a', p1, incr(10), 3))), 10);
  c.network.partition([p1, 'a'], [...c.ids.filter((id) => id !== p1), 'b', 'reader']);
  const [fromA, fromB] = await c.scheduler.drive(Promise.all([op('a', p1, incr(1), 1), op('b', p2, incr(100), 2)]));
  assert.equal(answered(fromA), 11, 'p1 saw its own increments');
  assert.equal(answered(fromB), 110, 'p2 saw the first increment and its own');
  c.network.healAll();
  const both = await get(p3);
  assert.equal(both.length, 2, 'two siblings: one per side');
  assert.equal(count(both), 111, 'the read joins them: every increment counts once');
  await c.scheduler.run(c.scheduler.now + 1000); // read repair reaches every replica
  assert.equal(answered(await c.scheduler.drive(op('a', p1, incr(-1), 3))), 110, 'the next increment joins both sides');
  const one = await get(p2);
  assert.equal(one.length, 1, 'its version supersedes both siblings');
  assert.equal(count(one), 110);
});

test('a remove concurrent with an add of the same member keeps it (add wins); a remove that saw the add takes it', async () => {
  const { c, p1, p2, op, get } = await setup(73);
  assert.deepEqual(answered(await c.scheduler.drive(op('a', p1, { type: 'set', add: ['"milk"', '"eggs"'], remove: [] }, 3))), [
    '"eggs"',
    '"milk"',
  ]);
  c.network.partition([p1, 'a'], [...c.ids.filter((id) => id !== p1), 'b', 'reader']);
  const [fromA, fromB] = await c.scheduler.drive(
    Promise.all([
      op('a', p1, { type: 'set', add: ['"milk"'], remove: [] }, 1),
      op('b', p2, { type: 'set', add: [], remove: ['"milk"', '"eggs"'] }, 2),
    ]),
  );
  assert.deepEqual(answered(fromA), ['"eggs"', '"milk"']);
  assert.deepEqual(answered(fromB), []);
  c.network.healAll();
  const joined = joinSiblings(KEY, await get(p2), 'set');
  assert.deepEqual(
    joined?.type === 'set' && members(joined.state),
    ['"milk"'],
    'milk re-added concurrently stays; eggs, removed by one who saw its add, goes',
  );
});

test('a typed operation on a key holding a plain value, or another type, is refused and writes nothing', async () => {
  const { c, p1, op, get } = await setup(74);
  const plain = await c.scheduler.drive(
    c.client('a').request(p1, { type: 'put', key: KEY, value: Buffer.from('"hello"'), deleted: false, context: null, w: 3, pw: 0 }, 3000),
  );
  assert.equal(plain.type, 'putReply');
  const refused = await c.scheduler.drive(op('a', p1, incr(1)));
  assert.ok(
    refused.type === 'error' && refused.code === 'BAD_REQUEST' && /holds a plain value, not a counter/.test(refused.message),
    JSON.stringify(refused),
  );
  const after = await get(p1);
  assert.deepEqual(after.map((v) => Buffer.from(v.value).toString()), ['"hello"']);

  const { c: c2, p1: q1, op: op2 } = await setup(75);
  assert.equal(answered(await c2.scheduler.drive(op2('a', q1, incr(1)))), 1);
  const wrong = await c2.scheduler.drive(op2('a', q1, { type: 'set', add: ['1'], remove: [] }));
  assert.ok(
    wrong.type === 'error' && wrong.code === 'BAD_REQUEST' && /holds a counter, not a set/.test(wrong.message),
    JSON.stringify(wrong),
  );
});

test('after concurrent increments and anti-entropy, every replica holds the same bytes, and repair made no version', async () => {
  const { c, p1, p2, p3, op } = await setup(76);
  c.network.partition([p1, 'a'], [...c.ids.filter((id) => id !== p1), 'b', 'c']);
  const replies = await c.scheduler.drive(Promise.all([op('a', p1, incr(2), 1), op('b', p2, incr(3), 2), op('c', p3, incr(4), 2)]));
  assert.deepEqual(replies.map((r) => r.type), ['opReply', 'opReply', 'opReply']);
  c.network.healAll();
  const dots = () => new Set([p1, p2, p3].flatMap((id) => c.node(id).replica.read(KEY).map((v) => `${v.dot.actor}:${v.dot.counter}`)));
  const before = dots();
  await c.scheduler.drive(c.repairer().sweep());
  const stored = [p1, p2, p3].map((id) => Buffer.from(encodeSet(c.node(id).replica.read(KEY))).toString('hex'));
  assert.equal(new Set(stored).size, 1, 'byte-identical sibling sets on the three replicas');
  assert.ok([...dots()].every((d) => before.has(d)), 'no dot that an operation did not make');
  assert.equal(count(c.node(p1).replica.read(KEY)), 9);
});
