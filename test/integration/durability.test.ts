// Buffered durability (`--durability buffered`, the paper's buffered writes) acknowledges at
// commit, before the fsync, so a crash can lose versions a node already sent to other
// replicas. Such a node must never again claim those dots with a later dot of the same actor:
// after a run that did not stop cleanly it goes on as a new actor. With the default durability
// a crash keeps the actor (test/reliability/restarts.test.ts), and so does a clean stop here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoClient } from '../../client/src/client.ts';
import { LocalCluster } from '../../bin/launcher.ts';
import { TEST_SECRET } from '../helpers/cluster.ts';

const output = process.env.NODE_OUTPUT === '1' ? 'inherit' : 'ignore';

test('buffered durability: a node killed without a clean stop comes back as a new actor; one stopped cleanly keeps its actor', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'buffered-'));
  const cluster = new LocalCluster({
    nodes: 3,
    basePort: 7941,
    dataDir: dir,
    secret: TEST_SECRET,
    output,
    flags: ['--durability', 'buffered'],
  });
  let client: DynamoClient | undefined;
  try {
    await cluster.start();
    client = await DynamoClient.connect({ seeds: cluster.seeds, cluster: cluster.cluster, secret: TEST_SECRET, timeoutMs: 5000 });
    const actor = async () => (await client!.status('n1')).actor;
    const first = await actor();
    await client.put('buffered', Buffer.from('"one"'), { w: 3 });

    await cluster.signal('n1', 'SIGKILL');
    await cluster.startNode('n1');
    const afterKill = await actor();
    assert.notEqual(afterKill, first, 'a crash with buffered writes moves the actor on');

    await cluster.signal('n1', 'SIGTERM');
    await cluster.startNode('n1');
    assert.equal(await actor(), afterKill, 'a clean stop keeps the actor');
  } finally {
    client?.close();
    await cluster.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});
