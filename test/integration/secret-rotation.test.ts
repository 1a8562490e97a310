// Rotating the cluster secret without downtime: a node accepts its own secret and those named
// by --accept-secret-file, and refuses any other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StoreError } from '../../client/src/core/errors.ts';
import { DynamoClient } from '../../client/src/client.ts';
import { withCluster } from '../helpers/cluster.ts';

test('a node accepts its secret and the accepted ones, so senders can move to a new secret one by one; any other secret is refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dynamo-secrets-'));
  const next = 'the-next-cluster-secret-0123456789';
  const file = join(dir, 'accepted');
  writeFileSync(file, `${next}\n`);
  try {
    await withCluster(
      { nodes: 1, basePort: 7576, n: 1, r: 1, w: 1, flags: ['--accept-secret-file', file] },
      async ({ cluster, client }) => {
        await client.put('k', Buffer.from('"old secret"'));
        const moved = await DynamoClient.connect({ seeds: cluster.seeds, cluster: cluster.cluster, secret: next, timeoutMs: 3000 });
        try {
          assert.equal((await moved.get('k')).siblings.length, 1, 'a process already on the new secret is served');
        } finally {
          moved.close();
        }
        await assert.rejects(
          DynamoClient.connect({ seeds: cluster.seeds, cluster: cluster.cluster, secret: 'some-other-secret-0123456789', timeoutMs: 3000 }),
          (e: unknown) => e instanceof StoreError && e.code === 'UNAUTHORIZED',
        );
      },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
