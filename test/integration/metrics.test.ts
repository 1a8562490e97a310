// A node's /metrics, scraped as Prometheus would: the hints it holds, their bytes and the age of
// the oldest, which tells an operator how long a replica has been missing writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoClient } from '../../storage/client.ts';
import { LocalCluster } from '../../storage/launcher.ts';
import { TEST_SECRET } from '../helpers/cluster.ts';
import { waitFor } from '../helpers/wait.ts';

const output = process.env.NODE_OUTPUT === '1' ? 'inherit' : 'ignore';

function gauge(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line, `${name} is exported`);
  return Number(line.split(' ')[1]);
}

test('a node exports the hints it holds, their bytes and the age of the oldest', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'metrics-'));
  const cluster = new LocalCluster({ nodes: 4, basePort: 7961, dataDir: dir, secret: TEST_SECRET, output });
  let client: DynamoClient | undefined;
  try {
    await cluster.start();
    client = await DynamoClient.connect({ seeds: cluster.seeds, cluster: cluster.cluster, secret: TEST_SECRET, timeoutMs: 5000 });
    await cluster.signal('n4', 'SIGKILL');
    // a key n4 replicates, written while n4 is down: a fallback keeps its copy as a hint
    const key = Array.from({ length: 200 }, (_, i) => `m${i}`).find((k) => client!.view.primaries(client!.view.partitionOf(k)).includes('n4'))!;
    await waitFor('n4 to be seen down', async () => (await client!.status('n1')).unreachable.includes('n4'), 20_000, 100);
    await client.put(key, Buffer.from('"hinted"'), { w: 2 });
    const scrape = async (id: string) => (await fetch(`http://${cluster.node(id).listen}/metrics`)).text();
    let holder = '';
    await waitFor('a fallback to hold the hint', async () => {
      for (const id of ['n1', 'n2', 'n3']) if (gauge(await scrape(id), 'dynamo_hints_stored') > 0) holder = id;
      return holder !== '';
    }, 10_000, 100);
    const text = await scrape(holder);
    assert.ok(gauge(text, 'dynamo_hint_bytes') > 0);
    const age = gauge(text, 'dynamo_hint_oldest_age_seconds');
    assert.ok(age > 0 && age < 600, `oldest hint ${age} s old`);
    const others = ['n1', 'n2', 'n3'].filter((id) => id !== holder);
    for (const id of others) if (gauge(await scrape(id), 'dynamo_hints_stored') === 0) assert.equal(gauge(await scrape(id), 'dynamo_hint_oldest_age_seconds'), 0);
  } finally {
    client?.close();
    await cluster.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});
