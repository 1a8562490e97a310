// What a compromised node can do with the peer role's ringPush, against real node processes:
// rings are not signed, so a well-formed ring of a higher version, its owners rotated and no
// transfers planned, is adopted and gossiped (docs/security.md, "A compromised node"). It must
// not lose what was written: a node drops a key range it no longer replicates only after a final
// pass has sent every version it holds there to the range's replicas on the ring it holds. So
// every acknowledged write is read back, with its value, once the nodes have moved their data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DynamoClient } from '../../client/src/client.ts';
import { loadIdentity } from '../../client/src/auth/identity-file.ts';
import type { Ring } from '../../client/src/core/ring.ts';
import { withCluster } from '../helpers/cluster.ts';
import { waitFor } from '../helpers/wait.ts';

const KEYS = 200;

/** The ring with every partition moved to the next member in id order: most key ranges change replicas. */
function rotated(ring: Ring): Ring {
  const ids = ring.members.map((m) => m.id);
  const owners = ring.owners.map((o) => ids[(ids.indexOf(o) + 1) % ids.length]!);
  return { ...ring, version: ring.version + 100, owners };
}

test('a ring pushed by a compromised peer, owners rotated and nothing transferred, loses no acknowledged write', async () => {
  await withCluster(
    { nodes: 4, basePort: 7471, secret: undefined, flags: ['--drop-grace-ms', '500'] },
    async ({ cluster, client }) => {
      const keys = Array.from({ length: KEYS }, (_, i) => `forged-ring:${i}`);
      for (const k of keys) assert.equal((await client.put(k, Buffer.from(k), { w: 3 })).acks, 3, k);

      const pushed = rotated(client.ring);
      const moved = pushed.owners.filter((o, p) => o !== client.ring.owners[p]).length;
      const mallory = await DynamoClient.connect({
        seeds: cluster.seeds,
        cluster: cluster.cluster,
        identity: loadIdentity(cluster.identity('mallory', 'peer')),
        timeoutMs: 5000,
      });
      try {
        assert.equal((await mallory.request('n2', { type: 'ringPush', cluster: cluster.cluster, ring: pushed })).type, 'ack');
      } finally {
        mallory.close();
      }
      const ids = cluster.nodes.map((n) => n.id);
      await waitFor('every node holds the pushed ring', async () => {
        const versions = await Promise.all(ids.map(async (id) => (await client.status(id)).ringVersion));
        return versions.every((v) => v === pushed.version);
      }, 30_000, 100);

      // each node sends the ranges it no longer replicates to their new replicas, then drops them
      let dropped = 0;
      await waitFor('every node dropped the ranges the pushed ring took from it', async () => {
        const status = await Promise.all(ids.map((id) => client.status(id)));
        dropped = status.reduce((sum, s) => sum + s.keysDropped, 0);
        return dropped > 0 && status.every((s) => s.keysDropped > 0);
      }, 60_000, 200);

      await client.refreshRing();
      assert.equal(client.ring.version, pushed.version);
      const missing: string[] = [];
      for (const k of keys) {
        const read = await client.get(k, { r: 3 });
        if (!read.siblings.some((v) => Buffer.from(v.value).toString() === k)) missing.push(k);
      }
      assert.deepEqual(missing, [], `${missing.length} of ${KEYS} writes not found on their replicas after the pushed ring`);
      process.stdout.write(
        `# pushed ring v${pushed.version} moved ${moved} of ${pushed.partitions} partitions; ` +
          `${dropped} key copies dropped after their final pass; ${KEYS} of ${KEYS} writes read back at R=3\n`,
      );
    },
  );
});
