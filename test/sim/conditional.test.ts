// Conditional writes across coordinators, in the simulator: the check is made by each key's
// coordinator over what it holds, so two coordinators cut off from each other (a partition,
// with sloppy quorum letting both answer) can each pass it. The result is siblings, never a
// lost write; once the versions meet, the check sees them all. docs/graphql.md states this.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimCluster } from './cluster.ts';
import { contextOf, type SiblingSet } from '../../client/src/core/siblings.ts';
import type { VersionVector } from '../../client/src/core/version-vector.ts';
import type { PutCondition, Reply } from '../../client/src/protocol/messages.ts';

const KEY = 'cart';

async function setup(c: SimCluster) {
  // every node hears from a majority before it coordinates (node.ts, the start-up check)
  await c.scheduler.runUntil(() => c.running().every((n) => n.status().identityConfirmed), 10_000, 'nodes confirmed');
  const view = c.node('n1').view;
  const [p1, p2, p3] = view.primaries(view.partitionOf(KEY)) as [string, string, string];
  const put = (
    client: string,
    to: string,
    value: string,
    context: VersionVector | null,
    condition: PutCondition | null,
    w: number,
  ): Promise<Reply> =>
    c
      .client(client)
      .request(
        to,
        { type: 'put', key: KEY, value: Buffer.from(value), deleted: false, context, w, pw: 0, ...(condition ? { condition } : {}) },
        3000,
      );
  const get = async (to: string): Promise<SiblingSet> => {
    const reply = await c.scheduler.drive(c.client('reader').request(to, { type: 'get', key: KEY, r: 3, pr: 0 }, 3000));
    assert.equal(reply.type, 'getReply', JSON.stringify(reply));
    return reply.type === 'getReply' ? reply.set : [];
  };
  const values = (set: SiblingSet) => set.map((v) => Buffer.from(v.value).toString()).sort();
  return { p1, p2, p3, put, get, values };
}

test('one context, two coordinators that cannot reach each other: both writes pass their check and become siblings; nothing is lost', async () => {
  const c = await SimCluster.create({ seed: 61, nodes: 5, localHandoffEveryMs: 0 });
  const { p1, p2, put, get, values } = await setup(c);
  assert.equal((await c.scheduler.drive(put('a', p1, 'base', null, 'absent', 3))).type, 'putReply');
  const base = contextOf(await get(p1));

  // p1 and client a on one side; every other node, client b and the reader on the other
  c.network.partition([p1, 'a'], [...c.ids.filter((id) => id !== p1), 'b', 'reader']);
  const [fromA, fromB] = await c.scheduler.drive(
    Promise.all([put('a', p1, 'from-a', base, 'current', 1), put('b', p2, 'from-b', base, 'current', 2)]),
  );
  assert.equal(fromA.type, 'putReply', `p1 coordinated alone and its check passed: ${JSON.stringify(fromA)}`);
  assert.equal(fromB.type, 'putReply', `p2 coordinated and its check passed: ${JSON.stringify(fromB)}`);

  c.network.healAll();
  const both = await get(p2);
  assert.deepEqual(values(both), ['from-a', 'from-b'], 'siblings: neither acknowledged write was lost, the base is superseded by both');
  // read repair has given p1 the other side's version: its check now sees both
  await c.scheduler.run(c.scheduler.now + 1000);
  const stale = await c.scheduler.drive(put('a', p1, 'late', base, 'current', 2));
  assert.equal(stale.type, 'conflict');
  assert.deepEqual(stale.type === 'conflict' ? values(stale.set) : [], ['from-a', 'from-b']);
  // the client merges the siblings the conflict carried and writes with their context
  const merged = await c.scheduler.drive(
    put('a', p1, 'from-a+from-b', contextOf(stale.type === 'conflict' ? stale.set : []), 'current', 3),
  );
  assert.equal(merged.type, 'putReply');
  assert.deepEqual(values(await get(p2)), ['from-a+from-b']);
});

test('through two coordinators one after another: a write that reached the second coordinator makes its check refuse the stale context', async () => {
  const c = await SimCluster.create({ seed: 62, nodes: 5, localHandoffEveryMs: 0 });
  const { p1, p2, put, get, values } = await setup(c);
  assert.equal((await c.scheduler.drive(put('a', p1, 'base', null, 'absent', 3))).type, 'putReply');
  const base = contextOf(await get(p1));
  // w = 3: every primary holds the write when it is acknowledged
  assert.equal((await c.scheduler.drive(put('a', p1, 'first', base, 'current', 3))).type, 'putReply');
  const second = await c.scheduler.drive(put('b', p2, 'second', base, 'current', 2));
  assert.equal(second.type, 'conflict', JSON.stringify(second));
  assert.deepEqual(values(await get(p2)), ['first']);
  // and a create where a live value exists is refused by any coordinator that holds it
  const create = await c.scheduler.drive(put('b', p2, 'again', null, 'absent', 2));
  assert.equal(create.type, 'conflict');
  // a node that is no replica of the key hands the put to its coordinator and relays the conflict
  const outsider = c.ids.find((id) => !view(c).includes(id))!;
  const relayed = await c.scheduler.drive(put('b', outsider, 'via', base, 'current', 2));
  assert.equal(relayed.type, 'conflict', JSON.stringify(relayed));
  assert.deepEqual(relayed.type === 'conflict' ? values(relayed.set) : [], ['first']);
});

function view(c: SimCluster): readonly string[] {
  const v = c.node('n1').view;
  return v.primaries(v.partitionOf(KEY));
}

test('through one coordinator, of N concurrent writes with one context exactly one passes, whatever the order the network delivers them in', async () => {
  for (const seed of [71, 72, 73, 74, 75]) {
    const c = await SimCluster.create({ seed, nodes: 5, localHandoffEveryMs: 0 });
    const { p1, put, get, values } = await setup(c);
    assert.equal((await c.scheduler.drive(put('a', p1, 'base', null, 'absent', 2))).type, 'putReply');
    const base = contextOf(await get(p1));
    const replies = await c.scheduler.drive(
      Promise.all(Array.from({ length: 8 }, (_, i) => put(`w${i}`, p1, `v${i}`, base, 'current', 2))),
    );
    const passed = replies.flatMap((r, i) => (r.type === 'putReply' ? [`v${i}`] : []));
    assert.equal(passed.length, 1, `seed ${seed}: ${replies.map((r) => r.type).join(', ')}`);
    assert.ok(replies.every((r) => r.type === 'putReply' || r.type === 'conflict'), `seed ${seed}`);
    assert.deepEqual(values(await get(p1)), passed, `seed ${seed}: one version, the one that passed`);
  }
});
