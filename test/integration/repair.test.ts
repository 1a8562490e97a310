// Repair on BullMQ against real node processes, real worker processes and a real Redis.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { chromium, type Browser } from 'playwright-core';
import type { DynamoClient } from '../../client/src/client.ts';
import { startService, stopProcess, type LocalCluster } from '../../bin/launcher.ts';
import { keyPrefix, RepairQueues } from '../../jobs/queues.ts';
import { RepairStats } from '../../jobs/stats.ts';
import { TEST_SECRET, withCluster } from '../helpers/cluster.ts';
import { TEST_ADMIN_TOKEN, TEST_CONTEXT_KEY } from '../helpers/stack.ts';
import { waitFor } from '../helpers/wait.ts';

const REDIS = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A queue prefix of its own per test, as BullMQ's tests do. */
function prefix(name: string): string {
  return `test-${name}-${process.pid}-${Date.now()}`;
}

async function cleanup(p: string): Promise<void> {
  const r = new Redis(REDIS);
  const keys = await r.keys(`${keyPrefix(p)}:*`);
  if (keys.length) await r.del(...keys);
  r.disconnect();
}

function startJobs(cluster: LocalCluster, p: string, port: number, args: string[] = []): Promise<ChildProcess> {
  return startService({
    entry: 'bin/jobs.ts',
    args: ['--port', String(port), '--seeds', cluster.seeds.join(','), ...args],
    // the workers' own repair identity: hint replay, anti-entropy and reclaim all within the repair role
    env: {
      DYNAMO_IDENTITY: cluster.identity('repair', 'repair'),
      DYNAMO_SECRET: '',
      REDIS_URL: REDIS,
      REPAIR_QUEUE_PREFIX: p,
      JOBS_LOG_LEVEL: 'warn',
    },
    health: `127.0.0.1:${port}`,
    output: process.env.NODE_OUTPUT === '1' ? 'inherit' : 'ignore',
  });
}


/** The keys of `keys` that `node` holds in its own data. */
async function held(client: DynamoClient, node: string, keys: string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (let i = 0; i < keys.length; i += 500) {
    const reply = await client.request(node, { type: 'keysRead', keys: keys.slice(i, i + 500) });
    if (reply.type === 'keysReadReply') for (const e of reply.entries) out.set(e.key, e.set.length);
  }
  return out;
}

test('hinted handoff: a node stopped while 1,000 keys are written gets every hint replayed on return; none is left', async () => {
  const p = prefix('handoff');
  await withCluster(
    { nodes: 5, basePort: 7501, flags: ['--repair-redis-url', REDIS], env: { REPAIR_QUEUE_PREFIX: p } },
    async ({ cluster, client }) => {
      const jobs = await startJobs(cluster, p, 4501, ['--handoff-scan-every-ms', '2000']);
      try {
        await cluster.signal('n3', 'SIGKILL');
        await waitFor('n3 seen down', async () => (await client.status('n1')).unreachable.includes('n3'), 10_000);
        const keys = Array.from({ length: 1000 }, (_, i) => `hk${i}`);
        for (let i = 0; i < keys.length; i += 100)
          await Promise.all(keys.slice(i, i + 100).map((k) => client.put(k, Buffer.from(k), { w: 2 })));
        const hinted = (await Promise.all(['n1', 'n2', 'n4', 'n5'].map((n) => client.status(n)))).reduce((s, x) => s + x.hints, 0);
        assert.ok(hinted > 300, `only ${hinted} hints were stored`);
        const t = performance.now();
        await cluster.startNode('n3');
        await waitFor(
          'every hint replayed',
          async () => (await Promise.all(client.ring.members.map((m) => client.status(m.id)))).every((s) => s.hints === 0),
          60_000,
          250,
        );
        const ms = Math.round(performance.now() - t);
        const owned = keys.filter((k) => client.view.primaries(client.view.partitionOf(k)).includes('n3'));
        const has = await held(client, 'n3', owned);
        assert.equal(has.size, owned.length, `n3 holds ${has.size} of the ${owned.length} keys it owns`);
        process.stdout.write(
          `# handoff: ${hinted} hints for n3 replayed within ${ms} ms of its return; n3 holds all ${owned.length} keys it owns\n`,
        );
      } finally {
        await stopProcess(jobs);
        await cleanup(p);
      }
    },
  );
});

test('a holder that never saw the owner down still has its hints replayed: it asks for a replay of hints held for an owner it can reach', async () => {
  const p = prefix('holder');
  await withCluster(
    { nodes: 3, basePort: 7541, flags: ['--repair-redis-url', REDIS], env: { REPAIR_QUEUE_PREFIX: p } },
    async ({ cluster, client }) => {
      // no schedules: no safety-net scan, so a replay comes only from the holder itself
      const jobs = await startJobs(cluster, p, 4543, ['--no-schedule']);
      try {
        // a hint on n2 for n3, which n2 always saw up (as when a coordinator, not the holder,
        // found the owner unreachable, and the owner came back before the holder noticed)
        const keys = Array.from({ length: 20 }, (_, i) => `hold${i}`);
        for (const k of keys) await client.put(k, Buffer.from(k), { w: 3 });
        const sets = await client.request('n1', { type: 'keysRead', keys });
        assert.equal(sets.type, 'keysReadReply');
        if (sets.type !== 'keysReadReply') return;
        for (const e of sets.entries)
          assert.equal((await client.request('n2', { type: 'replicaWrite', key: e.key, hintFor: 'n3', set: e.set })).type, 'ack');
        assert.equal((await client.status('n2')).hints, keys.length);
        assert.ok(!(await client.status('n2')).unreachable.includes('n3'));
        const t = performance.now();
        await waitFor('the hints replayed', async () => (await client.status('n2')).hints === 0, 30_000, 250);
        process.stdout.write(
          `# a holder that saw its owner up all along had ${keys.length} hints replayed within ${Math.round(performance.now() - t)} ms\n`,
        );
      } finally {
        await stopProcess(jobs);
        await cleanup(p);
      }
    },
  );
});

test('anti-entropy: replicas that diverged (a replica missed writes, no hints) agree after one sweep that sends only what differs', async () => {
  const p = prefix('ae');
  await withCluster({ nodes: 5, basePort: 7511, flags: ['--hint-max-bytes', '0'] }, async ({ cluster, client }) => {
    const keys = Array.from({ length: 2000 }, (_, i) => `ae${i}`);
    for (let i = 0; i < 1000; i += 100) await Promise.all(keys.slice(i, i + 100).map((k) => client.put(k, Buffer.from(k))));
    // n4 misses the second half of the writes: they reach the other replicas only
    await cluster.signal('n4', 'SIGKILL');
    for (let i = 1000; i < 2000; i += 100) await Promise.all(keys.slice(i, i + 100).map((k) => client.put(k, Buffer.from(k), { w: 2 })));
    await cluster.startNode('n4');
    const divergent = keys.slice(1000).filter((k) => client.view.primaries(client.view.partitionOf(k)).includes('n4'));
    assert.ok(divergent.length > 300);
    const before = await held(client, 'n4', divergent);
    assert.equal(before.size, 0, 'n4 missed those writes');

    const redis = new Redis(REDIS);
    const queues = new RepairQueues(redis, p);
    const stats = new RepairStats(redis, p);
    const jobs = await startJobs(cluster, p, 4511, ['--no-schedule']);
    try {
      await queues.sweep('test');
      const partitions = client.ring.partitions;
      await waitFor('one sweep of every key range', async () => (await stats.lastSweeps()).length === partitions, 120_000, 250);
      for (let q = 0; q < partitions; q++) {
        const roots = await Promise.all(client.view.primaries(q).map(async (n) => {
          const r = await client.request(n, { type: 'merkleRoots', partition: q });
          return r.type === 'merkleRootsReply' ? Buffer.from(r.root).toString('hex') : '?';
        }));
        assert.equal(new Set(roots).size, 1, `key range ${q}: replicas' roots still differ`);
      }
      const totals = await stats.totals();
      const after = await held(client, 'n4', divergent);
      assert.equal(after.size, divergent.length);
      // each missing key crosses once, to the replica that lacked it; a small bound covers nothing else
      assert.ok(
        totals.keysRepaired >= divergent.length && totals.keysRepaired <= divergent.length + 10,
        `${totals.keysRepaired} keys sent for ${divergent.length} divergent`,
      );
      process.stdout.write(
        `# anti-entropy: ${divergent.length} divergent keys; one sweep compared ${totals.keysCompared} keys, sent ${totals.keysRepaired}; all ${partitions} key ranges' roots equal\n`,
      );
    } finally {
      await stopProcess(jobs);
      await queues.close();
      redis.disconnect();
      await cleanup(p);
    }
  });
});

test('a worker killed in the middle of a replay job: the retried job finishes, nothing lost, nothing doubled', async () => {
  const p = prefix('kill');
  await withCluster(
    { nodes: 5, basePort: 7521, flags: ['--repair-redis-url', REDIS], env: { REPAIR_QUEUE_PREFIX: p } },
    async ({ cluster, client }) => {
      await cluster.signal('n2', 'SIGKILL');
      await waitFor('n2 seen down', async () => (await client.status('n1')).unreachable.includes('n2'), 10_000);
      const keys = Array.from({ length: 2500 }, (_, i) => `kk${i}`);
      for (let i = 0; i < keys.length; i += 250)
        await Promise.all(keys.slice(i, i + 250).map((k) => client.put(k, Buffer.from(k), { w: 2 })));
      const owned = keys.filter((k) => client.view.primaries(client.view.partitionOf(k)).includes('n2'));
      await cluster.startNode('n2'); // the holders queue replays; no worker runs yet

      const redis = new Redis(REDIS);
      const queues = new RepairQueues(redis, p);
      let jobs: ChildProcess | undefined;
      try {
        await waitFor('replays queued', async () => ((await queues.handoff.getJobCounts('waiting')).waiting ?? 0) > 0, 15_000);
        const slow = ['--no-schedule', '--replay-hints-per-second', '200', '--lock-ms', '2000'];
        jobs = await startJobs(cluster, p, 4521, slow);
        await waitFor(
          'a replay under way',
          async () => {
            const active = await queues.handoff.getJobs(['active']);
            return active.some((j) => typeof j.progress === 'object' && (j.progress as { read: number }).read > 0);
          },
          20_000,
          50,
        );
        jobs.kill('SIGKILL');
        await new Promise((r) => jobs!.once('exit', r));
        const left = (await Promise.all(client.ring.members.map((m) => client.status(m.id)))).reduce((s, x) => s + x.hints, 0);
        assert.ok(left > 0, 'the worker died with hints still to deliver');
        jobs = await startJobs(cluster, p, 4522, ['--no-schedule', '--lock-ms', '2000']);
        await waitFor(
          'every hint replayed by the retried job',
          async () => (await Promise.all(client.ring.members.map((m) => client.status(m.id)))).every((s) => s.hints === 0),
          60_000,
          250,
        );
        const has = await held(client, 'n2', owned);
        assert.equal(has.size, owned.length, 'nothing lost');
        assert.ok(
          [...has.values()].every((siblings) => siblings === 1),
          'nothing doubled: every key holds its one version',
        );
        const retried = (await queues.handoff.getJobs(['completed'])).filter((j) => j.attemptsMade > 1 || j.stalledCounter > 0);
        process.stdout.write(
          `# worker killed mid-replay with ${left} hints left; ${retried.length} job(s) taken over; n2 holds all ${owned.length} keys once\n`,
        );
      } finally {
        await stopProcess(jobs);
        await queues.close();
        redis.disconnect();
        await cleanup(p);
      }
    },
  );
});

test('the repair dashboard renders in headless Chromium, behind the admin token, and lists both queues', async () => {
  const p = prefix('board');
  await withCluster({ nodes: 1, basePort: 7531 }, async ({ cluster }) => {
    const gateway = await startService({
      entry: 'bin/gateway.ts',
      args: ['--port', '4531', '--seeds', cluster.seeds.join(',')],
      env: {
        DYNAMO_SECRET: TEST_SECRET,
        GATEWAY_CONTEXT_KEYS: TEST_CONTEXT_KEY,
        ADMIN_TOKEN: TEST_ADMIN_TOKEN,
        REDIS_URL: REDIS,
        REPAIR_QUEUE_PREFIX: p,
        GATEWAY_LOG_LEVEL: 'warn',
      },
      health: '127.0.0.1:4531',
    });
    const redis = new Redis(REDIS);
    const queues = new RepairQueues(redis, p);
    let browser: Browser | undefined;
    try {
      browser = await chromium.launch({
        executablePath: '/usr/bin/chromium',
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
      await queues.sweep('dashboard test', [0]);
      assert.equal((await fetch('http://127.0.0.1:4531/admin/queues')).status, 401);
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:4531/admin/queues?token=${TEST_ADMIN_TOKEN}`);
      await page.getByText('anti-entropy').first().waitFor({ timeout: 20_000 });
      await page.getByText('handoff').first().waitFor({ timeout: 20_000 });
      const shot = await page.screenshot();
      assert.ok(shot.byteLength > 1000);
    } finally {
      await browser?.close();
      await queues.close();
      redis.disconnect();
      await stopProcess(gateway);
      await cleanup(p);
    }
  });
});
