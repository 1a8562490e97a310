// The repair queues on a highly available Redis: a real Redis Cluster of three redis-server
// processes, and a primary with a replica watched by three sentinels that fail it over while
// hints are being replayed. Everything that talks to the repair Redis is given the same setting:
// the storage nodes (which queue replays), the repair workers, and the gateway (dashboard,
// GraphQL repair status, rate limits).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { Cluster } from 'ioredis';
import type { DynamoClient } from '../../client/src/client.ts';
import { startService, stopProcess, type LocalCluster } from '../../bin/launcher.ts';
import { keyPrefix, RepairQueues } from '../../jobs/queues.ts';
import { redisConnection } from '../../jobs/redis.ts';
import { RepairStats } from '../../jobs/stats.ts';
import { TEST_SECRET, withCluster } from '../helpers/cluster.ts';
import { startRedisCluster, startSentinels } from '../helpers/redis-servers.ts';
import { CSRF, TEST_ADMIN_TOKEN, TEST_CONTEXT_KEY } from '../helpers/stack.ts';
import { waitFor } from '../helpers/wait.ts';

const output = process.env.NODE_OUTPUT === '1' ? 'inherit' : 'ignore';

function startJobs(cluster: LocalCluster, redisUrl: string, port: number, args: string[]): Promise<ChildProcess> {
  return startService({
    entry: 'bin/jobs.ts',
    args: ['--port', String(port), '--seeds', cluster.seeds.join(','), ...args],
    env: { DYNAMO_SECRET: TEST_SECRET, REDIS_URL: redisUrl, JOBS_LOG_LEVEL: 'warn' },
    health: `127.0.0.1:${port}`,
    output,
    timeoutMs: 30_000,
  });
}

/** How many of `keys` `node` holds in its own data. */
async function held(client: DynamoClient, node: string, keys: string[]): Promise<number> {
  let n = 0;
  for (let i = 0; i < keys.length; i += 500) {
    const reply = await client.request(node, { type: 'keysRead', keys: keys.slice(i, i + 500) });
    if (reply.type === 'keysReadReply') n += reply.entries.length;
  }
  return n;
}

/** Hints held by the members, but for `down`. */
const hintsHeld = async (client: DynamoClient, down?: string) =>
  (await Promise.all(client.ring.members.filter((m) => m.id !== down).map((m) => client.status(m.id)))).reduce((s, x) => s + x.hints, 0);

/**
 * Stops `node`, writes `count` keys while it is down (hints pile up on the others), and returns
 * the keys it owns and the hints written for them. `whileReturning` runs just before the node
 * starts again.
 */
async function missWrites(
  cluster: LocalCluster,
  client: DynamoClient,
  node: string,
  tag: string,
  count: number,
  whileReturning: () => Promise<void> = async () => {},
) {
  await cluster.signal(node, 'SIGKILL');
  await waitFor(`${node} seen down`, async () => (await client.status('n1')).unreachable.includes(node), 10_000);
  const keys = Array.from({ length: count }, (_, i) => `${tag}${i}`);
  for (let i = 0; i < keys.length; i += 100) await Promise.all(keys.slice(i, i + 100).map((k) => client.put(k, Buffer.from(k), { w: 2 })));
  const hinted = await hintsHeld(client, node);
  assert.ok(hinted > count / 5, `only ${hinted} hints were stored`);
  const owned = keys.filter((k) => client.view.primaries(client.view.partitionOf(k)).includes(node));
  await whileReturning();
  await cluster.startNode(node);
  return { owned, hinted };
}

test('Redis Cluster: nodes queue hint replays, workers run them and a full sweep (flows), the gateway shows the queues and counts rate limits; every queue key in one slot', async () => {
  const redisCluster = await startRedisCluster([6471, 6472, 6473]);
  try {
    await withCluster({ nodes: 5, basePort: 7981, flags: ['--repair-redis-url', redisCluster.url] }, async ({ cluster, client }) => {
      // no schedules: the replays come from the nodes' own requests, the sweep from the test
      const jobs = await startJobs(cluster, redisCluster.url, 4781, ['--no-schedule']);
      const gateway = await startService({
        entry: 'bin/gateway.ts',
        args: ['--port', '4782', '--seeds', cluster.seeds.join(',')],
        env: {
          DYNAMO_SECRET: TEST_SECRET,
          GATEWAY_CONTEXT_KEYS: TEST_CONTEXT_KEY,
          ADMIN_TOKEN: TEST_ADMIN_TOKEN,
          REDIS_URL: redisCluster.url,
          GATEWAY_RATE_LIMIT_POINTS: '1000',
          GATEWAY_LOG_LEVEL: 'warn',
        },
        health: '127.0.0.1:4782',
        output,
      });
      const redis = redisConnection(redisCluster.url);
      redis.on('error', () => undefined);
      const queues = new RepairQueues(redis);
      const stats = new RepairStats(redis, 'dynamo');
      try {
        const t = performance.now();
        const { owned, hinted } = await missWrites(cluster, client, 'n3', 'rc', 400);
        // the bound allows for a machine busy with other work; a timeout says what was left
        await waitFor('every hint replayed', async () => {
          const left = await hintsHeld(client);
          if (left === 0) return true;
          throw new Error(`${left} hints held; handoff jobs ${JSON.stringify(await queues.handoff.getJobCounts())}`);
        }, 120_000, 250);
        assert.equal(await held(client, 'n3', owned), owned.length, 'n3 holds every key it owns');
        const replayMs = Math.round(performance.now() - t);
        assert.ok(((await queues.handoff.getJobCounts('completed')).completed ?? 0) > 0, 'the replays ran as jobs on the cluster');

        // a sweep is a flow per key range (parent and children): on a cluster they must share a slot
        await queues.sweep('test');
        const partitions = client.ring.partitions;
        await waitFor('one sweep of every key range', async () => (await stats.lastSweeps()).length === partitions, 120_000, 250);
        const totals = await stats.totals();
        assert.equal(totals.partitionsSwept, partitions);
        // the replays left the replicas alike: every key range's trees agreed
        assert.ok((await stats.lastSweeps()).every((s) => s.rootsEqual));

        const gql = async (query: string) => {
          const res = await fetch('http://127.0.0.1:4782/graphql', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_ADMIN_TOKEN}`, ...CSRF }, body: JSON.stringify({ query }) });
          return (await res.json()) as {
            data?: { admin: { repair: { queues: { name: string; completed: number }[]; totals: { partitionsSwept: number } } } };
            errors?: unknown[];
          };
        };
        const status = await gql('{ admin { repair { queues { name completed } totals { partitionsSwept } } } }');
        assert.equal(status.errors, undefined, JSON.stringify(status.errors));
        const repair = status.data!.admin.repair;
        assert.deepEqual(repair.queues.map((q) => q.name).sort(), ['anti-entropy', 'handoff']);
        assert.ok(repair.queues.every((q) => q.completed > 0));
        assert.equal(repair.totals.partitionsSwept, partitions);
        const board = await fetch('http://127.0.0.1:4782/admin/queues/api/queues', { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
        assert.equal(board.status, 200);
        assert.deepEqual(((await board.json()) as { queues: { name: string }[] }).queues.map((q) => q.name).sort(), [
          'anti-entropy',
          'handoff',
        ]);

        // every key of the queues and reports is in the one slot of the hash tag
        const cluster3 = redis as Cluster;
        const all = (await Promise.all(cluster3.nodes('master').map((n) => n.keys('*')))).map((keys, i) => ({ node: i, keys }));
        const queueKeys = all.flatMap((n) => n.keys.filter((k) => k.startsWith(`${keyPrefix('dynamo')}:`)).map(() => n.node));
        assert.ok(queueKeys.length > 10);
        assert.equal(new Set(queueKeys).size, 1, 'the queue keys live on one node');
        assert.ok(all.flatMap((n) => n.keys).some((k) => k.includes(':rate:')), 'the gateway counts its rate limits in the cluster');
        assert.ok(
          all.flatMap((n) => n.keys).every((k) => k.startsWith(`${keyPrefix('dynamo')}:`) || k.includes(':rate:')),
          'nothing else is written',
        );
        process.stdout.write(
          `# Redis Cluster: ${hinted} hints replayed through node-queued jobs in ${replayMs} ms of n3's return; a sweep of ${partitions} key ranges (one flow each) found every replica alike; ${queueKeys.length} queue keys in slot of {dynamo}\n`,
        );
      } finally {
        await stopProcess(gateway);
        await stopProcess(jobs);
        await queues.close();
        redis.disconnect();
      }
    });
  } finally {
    await redisCluster.stop();
  }
});

test('Redis Sentinel: the primary is killed as a node returns with hints to replay; the replica takes over and every hint is still replayed', async () => {
  const sentinel = await startSentinels('dynamo-repair', 6481, 6482, [6491, 6492, 6493]);
  try {
    assert.equal(await sentinel.primaryPort(), 6481);
    await withCluster({ nodes: 5, basePort: 7991, flags: ['--repair-redis-url', sentinel.url] }, async ({ cluster, client }) => {
      // a job lost with the primary (not yet copied to the replica) is found again by the scan
      const jobs = await startJobs(cluster, sentinel.url, 4791, ['--handoff-scan-every-ms', '2000', '--lock-ms', '2000']);
      const redis = redisConnection(sentinel.url);
      redis.on('error', () => undefined);
      const stats = new RepairStats(redis, 'dynamo');
      try {
        const first = await missWrites(cluster, client, 'n2', 'sa', 300);
        await waitFor('every hint replayed', async () => (await hintsHeld(client)) === 0, 60_000, 250);
        assert.equal(await held(client, 'n2', first.owned), first.owned.length);
        const before = await stats.totals();
        assert.ok(before.hintsReplayed > 0);

        // the primary dies just before the node returns: its holders' replay requests and the
        // workers' jobs meet the failover
        const t = performance.now();
        const second = await missWrites(cluster, client, 'n4', 'sb', 300, async () => {
          const primary = sentinel.servers.get(6481)!;
          const exited = new Promise((r) => primary.once('exit', r));
          primary.kill('SIGKILL');
          await exited;
        });
        await waitFor('the sentinels promote the replica', async () => (await sentinel.primaryPort()) === 6482, 30_000, 200);
        const failoverMs = Math.round(performance.now() - t);
        await waitFor('every hint replayed after the failover', async () => (await hintsHeld(client)) === 0, 90_000, 250);
        assert.equal(await held(client, 'n4', second.owned), second.owned.length, 'n4 holds every key it owns');
        const after = await stats.totals();
        assert.ok(
          after.hintsReplayed > before.hintsReplayed,
          `the new primary records the replays (${before.hintsReplayed} before, ${after.hintsReplayed} after)`,
        );
        process.stdout.write(
          `# Redis Sentinel: ${first.hinted} hints replayed before; primary killed, replica promoted within ${failoverMs} ms; ${second.hinted} hints replayed through the new primary\n`,
        );
      } finally {
        await stopProcess(jobs);
        redis.disconnect();
      }
    });
  } finally {
    await sentinel.stop();
  }
});
