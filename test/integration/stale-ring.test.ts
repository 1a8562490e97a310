// A client whose ring is older than the cluster's: a node that no longer coordinates a key
// refuses it unapplied (STALE_RING), and the client learns the newer ring and asks again, so the
// application sees no error during a membership change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DynamoClient } from '../../client/src/client.ts';
import { loadIdentity } from '../../client/src/auth/identity-file.ts';
import { withCluster } from '../helpers/cluster.ts';
import { waitFor } from '../helpers/wait.ts';

test('a client holding the ring from before a leave writes and reads through it: the node that left refuses, the client asks again', async () => {
  await withCluster({ nodes: 4, basePort: 7461 }, async ({ cluster, client }) => {
    let refused = 0;
    // no refresh of its own while the test runs: its ring stays the one from before the leave
    const stale = await DynamoClient.connect({
      seeds: cluster.seeds,
      cluster: cluster.cluster,
      identity: loadIdentity(cluster.identity('stale', 'client')),
      timeoutMs: 5000,
      refreshMs: 3_600_000,
      onStaleRing: () => refused++,
    });
    try {
      const before = stale.ring.version;
      const leave = await client.changeRing({ kind: 'leave', node: 'n4' });
      assert.equal(leave.type, 'changeReply', JSON.stringify(leave));
      await waitFor('the leave of n4 committed', async () => {
        await client.refreshRing();
        return !client.ring.members.some((m) => m.id === 'n4') && client.ring.next === null;
      }, 60_000, 200);
      assert.equal(stale.ring.version, before, 'the stale client still holds the old ring');

      // keys the old ring has n4 coordinate: n4, still running, coordinates none of them now
      const keys = Array.from({ length: 400 }, (_, i) => `stale${i}`).filter((k) => stale.route(k)[0] === 'n4').slice(0, 20);
      assert.ok(keys.length >= 10, `${keys.length} keys routed to n4`);
      for (const k of keys) assert.equal((await stale.put(k, Buffer.from(k))).acks >= 2, true, k);
      for (const k of keys) assert.equal(Buffer.from((await stale.get(k)).siblings[0]!.value).toString(), k);
      const note = `# ${keys.length} writes and reads through an old ring, none failed; ${refused} refused as stale and sent again\n`;
      process.stdout.write(note);
    } finally {
      stale.close();
    }
  });
});
