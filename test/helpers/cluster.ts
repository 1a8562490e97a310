// Real node processes for integration tests: a fresh data directory per test, a client, and
// cleanup that always runs. Every process has its own identity from a cluster authority made
// for the test (`cluster.identity(name, role)`); the nodes also take TEST_SECRET (the legacy
// mode) unless a test passes `secret: undefined`. The client has the peer role (id
// `observer`), since tests read replicas and Merkle trees directly as a node does;
// test/integration/roles.test.ts holds the narrower roles to their rows.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoClient } from '../../client/src/client.ts';
import { loadIdentity } from '../../client/src/auth/identity-file.ts';
import { LocalCluster, type LocalClusterOptions } from '../../bin/launcher.ts';

export const TEST_SECRET = 'integration-test-secret-0123456789';

export interface TestCluster {
  readonly cluster: LocalCluster;
  readonly client: DynamoClient;
  readonly dataDir: string;
}

export async function withCluster(
  options: Partial<LocalClusterOptions> & { nodes: number; basePort: number },
  body: (t: TestCluster) => Promise<void>,
): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dynamo-test-'));
  const cluster = new LocalCluster({
    secret: TEST_SECRET,
    identities: join(dataDir, 'identities'),
    dataDir,
    ...(options.nodes < 3 ? { n: options.nodes, r: 1, w: 1 } : {}),
    ...options,
    output: process.env.NODE_OUTPUT === '1' ? 'inherit' : 'ignore',
  });
  let client: DynamoClient | undefined;
  try {
    await cluster.start();
    const identity = loadIdentity(cluster.identity('observer', 'peer'));
    client = await DynamoClient.connect({
      seeds: cluster.seeds,
      cluster: cluster.cluster,
      identity,
      timeoutMs: 5000,
      tls: cluster.clientTls,
    });
    await body({ cluster, client, dataDir });
  } finally {
    client?.close();
    await cluster.stop().catch(() => undefined);
    for (const n of cluster.nodes) if (n.process?.exitCode === null) n.process.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
}
