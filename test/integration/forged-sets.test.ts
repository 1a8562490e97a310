// A real node refuses sibling sets that cannot have come from a replica, on every path a set
// arrives by, and the key's stored set stays as it was; that includes counters of another
// node's actor above the lease that node advertised (plus one block).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StoreError } from '../../client/src/core/errors.ts';
import type { SiblingSet, Version } from '../../client/src/core/siblings.ts';
import type { DynamoClient } from '../../client/src/client.ts';
import type { Reply } from '../../client/src/protocol/messages.ts';
import { withCluster } from '../helpers/cluster.ts';
import { waitFor } from '../helpers/wait.ts';
import { LEASE_BLOCK } from '../../storage/core/leases.ts';

const version = (actor: string, counter: number, past: [string, number][] = [], value = 'forged'): Version => ({
  dot: { actor, counter },
  past: new Map(past),
  deleted: false,
  writtenAt: 0,
  value: Buffer.from(JSON.stringify(value)),
});

async function stored(client: DynamoClient, key: string, node = 'n1'): Promise<string> {
  const r = await client.request(node, { type: 'inspect', key });
  assert.equal(r.type, 'inspectReply');
  return JSON.stringify(
    r.type === 'inspectReply'
      ? { own: r.own.map((v) => [v.dot, [...v.past], Buffer.from(v.value).toString()]), hints: r.hints.length }
      : null,
  );
}

async function assertRefused(request: Promise<Reply>, pattern: RegExp): Promise<void> {
  await assert.rejects(request, (e: unknown) => e instanceof StoreError && e.code === 'BAD_REQUEST' && pattern.test(e.message));
}

test('replicaWrite, hinted writes and keysMerge with forged sets are refused with BAD_REQUEST and change nothing', async () => {
  await withCluster({ nodes: 1, basePort: 7571, n: 1, r: 1, w: 1 }, async ({ client }) => {
    await client.put('victim', Buffer.from('"real"'));
    await client.put('bystander', Buffer.from('"also real"'));
    const before = await stored(client, 'victim');
    const bystander = await stored(client, 'bystander');
    const { actor, counter } = await client.status('n1');

    const forged: [string, SiblingSet, RegExp][] = [
      ['duplicate dots', [version('x@e', 5), version('x@e', 5)], /dot x@e:5 appears twice/],
      ['a member superseding another', [version('x@e', 5), version('y@e', 1, [['x@e', 5]])], /version y@e:1 supersedes its sibling x@e:5/],
      [
        "a counter of the node's own actor it never handed out",
        [version(actor, counter + 1_000_000)],
        /of this node, which has handed out counters up to/,
      ],
      ["a past naming the node's own actor far ahead", [version('x@e', 1, [[actor, 2 ** 40]])], /of this node/],
      [
        'too many actors',
        [
          version(
            'x@e',
            1,
            Array.from({ length: 70 }, (_, i): [string, number] => [`a${i}@e`, 1]),
          ),
        ],
        /names 71 actors/,
      ],
    ];
    for (const [what, set, pattern] of forged) {
      await assertRefused(client.request('n1', { type: 'replicaWrite', key: 'victim', hintFor: null, set }), pattern);
      assert.equal(await stored(client, 'victim'), before, `${what}: the stored set is unchanged`);
      // the same set as a hint for another owner, and in a batch beside a good entry
      await assertRefused(client.request('n1', { type: 'replicaWrite', key: 'victim', hintFor: 'n9', set }), pattern);
      const good = version('z@e', 1, [], 'would be merged');
      await assertRefused(
        client.request('n1', {
          type: 'keysMerge',
          entries: [
            { key: 'bystander', set: [good] },
            { key: 'victim', set },
          ],
        }),
        pattern,
      );
      assert.equal(await stored(client, 'victim'), before, `${what}: nothing was hinted or merged`);
      assert.equal(await stored(client, 'bystander'), bystander, `${what}: a batch with a forged entry changes none of its keys`);
    }

    // a well-formed set from another replica is still merged
    const ok = await client.request('n1', {
      type: 'replicaWrite',
      key: 'victim',
      hintFor: null,
      set: [version('peer@e', 1, [], 'concurrent')],
    });
    assert.equal(ok.type, 'ack');
    const read = await client.get('victim');
    assert.deepEqual(read.siblings.map((v) => JSON.parse(Buffer.from(v.value).toString()) as string).sort(), ['concurrent', 'real']);
  });
});

test('a counter of another node\'s actor above its advertised lease plus one block is refused; one at the bound is merged', async () => {
  // the same ports as the test above (the tests of a file run one after the other)
  await withCluster({ nodes: 2, basePort: 7571, n: 2, r: 1, w: 2 }, async ({ client }) => {
    await client.put('victim', Buffer.from('"real"'));
    await client.put('bystander', Buffer.from('"also real"'));
    const n2 = await client.status('n2');
    const [, epoch] = n2.actor.split('@') as [string, string];
    assert.ok(n2.lease >= n2.counter + LEASE_BLOCK / 2, `n2 advertises a lease (${n2.lease}) ahead of its counter (${n2.counter})`);
    // n1 hears n2's lease in n2's own heartbeat, within a few gossip rounds
    const heard = await waitFor('n1 to hear the lease n2 advertises', async () => (await client.status('n1')).heardLeases.n2?.[epoch]);
    assert.ok(heard <= n2.lease && heard >= n2.counter, `n1 heard ${heard}; n2 is at ${n2.counter} with a lease up to ${n2.lease}`);
    const before = await stored(client, 'victim');
    const bystander = await stored(client, 'bystander');
    const above = (await client.status('n1')).heardLeases.n2![epoch]! + LEASE_BLOCK + 1;

    const forged: [string, SiblingSet][] = [
      ['a dot of n2 far above its lease', [version(n2.actor, above + 2 ** 40)]],
      ['a dot of n2 one above the bound, in another incarnation', [version(`${n2.actor}.3`, above)]],
      ['a past naming n2 far ahead', [version('x@e', 1, [[n2.actor, 2 ** 40]])]],
    ];
    for (const [what, set] of forged) {
      const pattern = new RegExp(`names dot ${n2.actor}(\\.3)?:\\d+, above the counters its node has leased and advertised`);
      await assertRefused(client.request('n1', { type: 'replicaWrite', key: 'victim', hintFor: null, set }), pattern);
      await assertRefused(client.request('n1', { type: 'replicaWrite', key: 'victim', hintFor: 'n9', set }), pattern);
      await assertRefused(
        client.request('n1', {
          type: 'keysMerge',
          entries: [
            { key: 'bystander', set: [version('z@e', 1, [], 'would be merged')] },
            { key: 'victim', set },
          ],
        }),
        pattern,
      );
      assert.equal(await stored(client, 'victim'), before, `${what}: the stored set is unchanged`);
      assert.equal(await stored(client, 'bystander'), bystander, `${what}: nothing of the batch was merged`);
    }

    // an actor of n2 under an epoch nothing was heard for is not judged, and neither is a counter at the bound
    const unheard = await client.request('n1', {
      type: 'replicaWrite',
      key: 'victim',
      hintFor: null,
      set: [version('n2@neverheard', 2 ** 40, [], 'unjudged')],
    });
    assert.equal(unheard.type, 'ack');
    const plausible = await client.request('n1', {
      type: 'replicaWrite',
      key: 'bystander',
      hintFor: null,
      set: [version(n2.actor, above - 1, [], 'plausible')],
    });
    assert.equal(plausible.type, 'ack');
    assert.match(await stored(client, 'bystander'), /plausible/);

    // real writes coordinated by either node keep being taken by the other
    for (let i = 0; i < 20; i++) await client.put(`real-${i}`, Buffer.from(JSON.stringify(i)));
    for (let i = 0; i < 20; i++) assert.equal(Buffer.from((await client.get(`real-${i}`)).siblings[0]!.value).toString(), String(i));
  });
});
