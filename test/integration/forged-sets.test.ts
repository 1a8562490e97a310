// A real node refuses sibling sets that cannot have come from a replica, on every path a set
// arrives by, and the key's stored set stays as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StoreError } from '../../storage/core/errors.ts';
import type { SiblingSet, Version } from '../../storage/core/siblings.ts';
import type { DynamoClient } from '../../storage/client.ts';
import type { Reply } from '../../storage/protocol/messages.ts';
import { withCluster } from '../helpers/cluster.ts';

const version = (actor: string, counter: number, past: [string, number][] = [], value = 'forged'): Version => ({
  dot: { actor, counter },
  past: new Map(past),
  deleted: false,
  writtenAt: 0,
  value: Buffer.from(JSON.stringify(value)),
});

async function stored(client: DynamoClient, key: string): Promise<string> {
  const r = await client.request('n1', { type: 'inspect', key });
  assert.equal(r.type, 'inspectReply');
  return JSON.stringify(r.type === 'inspectReply' ? { own: r.own.map((v) => [v.dot, [...v.past], Buffer.from(v.value).toString()]), hints: r.hints.length } : null);
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
      ['a counter of the node\'s own actor it never handed out', [version(actor, counter + 1_000_000)], /of this node, which has handed out counters up to/],
      ['a past naming the node\'s own actor far ahead', [version('x@e', 1, [[actor, 2 ** 40]])], /of this node/],
      ['too many actors', [version('x@e', 1, Array.from({ length: 70 }, (_, i): [string, number] => [`a${i}@e`, 1]))], /names 71 actors/],
    ];
    for (const [what, set, pattern] of forged) {
      await assertRefused(client.request('n1', { type: 'replicaWrite', key: 'victim', hintFor: null, set }), pattern);
      assert.equal(await stored(client, 'victim'), before, `${what}: the stored set is unchanged`);
      // the same set as a hint for another owner, and in a batch beside a good entry
      await assertRefused(client.request('n1', { type: 'replicaWrite', key: 'victim', hintFor: 'n9', set }), pattern);
      const good = version('z@e', 1, [], 'would be merged');
      await assertRefused(client.request('n1', { type: 'keysMerge', entries: [{ key: 'bystander', set: [good] }, { key: 'victim', set }] }), pattern);
      assert.equal(await stored(client, 'victim'), before, `${what}: nothing was hinted or merged`);
      assert.equal(await stored(client, 'bystander'), bystander, `${what}: a batch with a forged entry changes none of its keys`);
    }

    // a well-formed set from another replica is still merged
    const ok = await client.request('n1', { type: 'replicaWrite', key: 'victim', hintFor: null, set: [version('peer@e', 1, [], 'concurrent')] });
    assert.equal(ok.type, 'ack');
    const read = await client.get('victim');
    assert.deepEqual(read.siblings.map((v) => JSON.parse(Buffer.from(v.value).toString()) as string).sort(), ['concurrent', 'real']);
  });
});
