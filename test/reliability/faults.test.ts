// The fault test against real processes: five nodes, each behind a TCP proxy that carries both
// gateway and node-to-node traffic, the gateway and the repair workers. While clients read and
// write through the gateway, a node is SIGKILLed and restarted, one is paused with SIGSTOP and
// resumed, one has its data directory wiped, and two are cut off (connections dropped, then
// stalled). Then everything heals, hints are replayed, anti-entropy sweeps, and the simulator's
// checker runs on what the clients saw and what the replicas hold.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { DynamoClient } from '../../client/src/client.ts';
import type { SiblingSet } from '../../client/src/core/siblings.ts';
import { LocalCluster, startService, stopProcess } from '../../bin/launcher.ts';
import { keyPrefix, RepairQueues } from '../../jobs/queues.ts';
import { RepairStats } from '../../jobs/stats.ts';
import { ContextSigner } from '../../gateway/context-token.ts';
import { History, check, story } from '../sim/checker.ts';
import { FaultProxies } from '../helpers/fault-proxy.ts';
import { TEST_SECRET } from '../helpers/cluster.ts';
import { TEST_ADMIN_TOKEN, TEST_CONTEXT_KEY } from '../helpers/stack.ts';
import { waitFor } from '../helpers/wait.ts';

const REDIS = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const BASE = 7601;
const PROXY_OFFSET = 50;
const GATEWAY = 4601;
const quiet = process.env.NODE_OUTPUT === '1' ? 'inherit' : 'ignore';

function parseDot(dot: string): { actor: string; counter: number } {
  const at = dot.lastIndexOf(':');
  return { actor: dot.slice(0, at), counter: Number(dot.slice(at + 1)) };
}

test('under SIGKILL, SIGSTOP, a wiped disk and cut links, no acknowledged write is lost and replicas converge', async () => {
  const prefix = `test-faults-${process.pid}-${Date.now()}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'dynamo-faults-'));
  const cluster = new LocalCluster({
    nodes: 5,
    basePort: BASE,
    advertiseOffset: PROXY_OFFSET,
    dataDir,
    secret: TEST_SECRET,
    output: quiet,
    flags: ['--repair-redis-url', REDIS],
    env: { REPAIR_QUEUE_PREFIX: prefix },
  });
  const proxies = new FaultProxies();
  const services: ChildProcess[] = [];
  let client: DynamoClient | undefined;
  const redis = new Redis(REDIS);
  const queues = new RepairQueues(redis, prefix);
  const stats = new RepairStats(redis, prefix);
  let running = true;
  try {
    for (const n of cluster.nodes) await proxies.add(n.id, Number(n.address.split(':')[1]), Number(n.listen.split(':')[1]));
    await cluster.start();
    const env = { DYNAMO_SECRET: TEST_SECRET, REDIS_URL: REDIS, REPAIR_QUEUE_PREFIX: prefix };
    services.push(
      await startService({
        entry: 'bin/gateway.ts',
        args: ['--port', String(GATEWAY), '--seeds', cluster.seeds.join(',')],
        env: { ...env, GATEWAY_CONTEXT_KEYS: TEST_CONTEXT_KEY, ADMIN_TOKEN: TEST_ADMIN_TOKEN, GATEWAY_LOG_LEVEL: 'error' },
        health: `127.0.0.1:${GATEWAY}`,
        output: quiet,
      }),
      await startService({
        entry: 'bin/jobs.ts',
        args: [
          '--port',
          String(GATEWAY + 1),
          '--seeds',
          cluster.seeds.join(','),
          '--handoff-scan-every-ms',
          '2000',
          '--sweep-every-ms',
          '3600000',
        ],
        env: { ...env, JOBS_LOG_LEVEL: 'error' },
        health: `127.0.0.1:${GATEWAY + 1}`,
        output: quiet,
      }),
    );
    client = await DynamoClient.connect({ seeds: cluster.seeds, cluster: cluster.cluster, secret: TEST_SECRET });
    await waitFor('the gateway ready', async () => (await fetch(`http://127.0.0.1:${GATEWAY}/ready`)).ok, 20_000);

    // ---- clients: read-then-write with the context, blind writes, deletes, through the gateway
    const history = new History();
    let seq = 0;
    const gql = async (query: string, variables: Record<string, unknown>) => {
      const res = await fetch(`http://127.0.0.1:${GATEWAY}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query, variables }),
        signal: AbortSignal.timeout(15_000),
      });
      return (await res.json()) as { data?: Record<string, any> | null; errors?: unknown[] };
    };
    // writes begun and acknowledged within each step of the nemesis (below)
    let phase = { acked: 0 };
    // the vector inside a context token: a delete that times out yet is applied leaves a tombstone
    // made over exactly that vector, which is how the checker knows it
    const contexts = new ContextSigner([TEST_CONTEXT_KEY]);
    const write = async (key: string, read: { id: string; context: string } | null, deleted: boolean) => {
      const id = `w${seq++}`;
      const context = read?.context ?? null;
      const during = phase;
      const record = history.attempt(id, key, deleted, read?.id ?? null, context === null ? null : contexts.verify(key, context));
      const r = deleted
        ? await gql('mutation($k: String!, $c: String) { delete(key: $k, context: $c) { dot } }', { k: key, c: context }).catch(() => null)
        : await gql('mutation($k: String!, $v: JSON!, $c: String) { put(key: $k, value: $v, context: $c) { dot } }', {
            k: key,
            v: { id },
            c: context,
          }).catch(() => null);
      const dot = (r?.data?.put ?? r?.data?.delete)?.dot as string | undefined;
      if (dot) {
        record.outcome = 'ok';
        if (during === phase) during.acked++;
        record.dot = parseDot(dot);
      } else {
        record.outcome = 'failed';
      }
    };
    const clientLoop = async (c: number) => {
      let i = 0;
      while (running) {
        const key = `k${(c * 7 + i++ * 3) % 16}`;
        const roll = (i * 37 + c * 11) % 100;
        if (roll < 60 || roll >= 90) {
          // the read's versions are recorded: the checker knows what a write over its context saw
          const r = await gql('query($k: String!) { get(key: $k) { context siblings { dot value deleted } } }', { k: key }).catch(
            () => null,
          );
          const got = r?.data?.get as { context: string | null; siblings: { dot: string; value: unknown; deleted: boolean }[] } | undefined;
          if (!got) continue;
          const read = history.read(
            key,
            got.siblings.map((v) => ({
              dot: parseDot(v.dot),
              past: new Map(),
              deleted: v.deleted,
              writtenAt: 0,
              value: Buffer.from(v.deleted ? '' : JSON.stringify(v.value)),
            })),
          );
          const withContext = got.context === null ? null : { id: read.id, context: got.context };
          if (roll < 60) await write(key, withContext, false);
          // deletes only over a read: a blind delete removes what its coordinator holds, which only the simulator can see
          else if (roll >= 95 && withContext) await write(key, withContext, true);
        } else {
          await write(key, null, false);
        }
      }
    };
    const clients = Array.from({ length: 4 }, (_, c) => clientLoop(c));

    // ---- the nemesis: each step acts, then waits (bounded) until the cluster shows the fault or
    // the recovery and enough writes begun during the step were acknowledged, so every fault is
    // held under load however fast the machine is
    const log: string[] = [];
    const others = (id: string) => client!.ring.members.map((m) => m.id).filter((m) => m !== id);
    /** Throws, saying who disagrees, until every other node reports `id` as reachable or not. */
    const seenBy = async (id: string, reachable: boolean) => {
      const wrong: string[] = [];
      for (const o of others(id)) if ((await client!.status(o)).unreachable.includes(id) === reachable) wrong.push(o);
      if (wrong.length > 0) throw new Error(`${wrong.join(', ')} still see ${id} as ${reachable ? 'unreachable' : 'reachable'}`);
    };
    const down = (id: string) => () => seenBy(id, false);
    /** the node answers this test's client itself, and every other node reaches it */
    const back = (id: string) => async () => {
      await client!.status(id);
      await seenBy(id, true);
    };
    const step = async (what: string, act: () => Promise<void> | void, until: () => Promise<void>, writes = 100) => {
      const current = { acked: 0 };
      phase = current;
      const started = performance.now();
      await act();
      await waitFor(`${what}: the cluster to show it and ${writes} writes acknowledged during it`, async () => {
        if (current.acked < writes) throw new Error(`${current.acked} writes acknowledged so far`);
        await until();
        return true;
      }, 120_000, 200);
      log.push(`${what} (${current.acked} acked)`);
      process.stdout.write(
        `# ${what}: ${current.acked} writes begun and acknowledged during it, over ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
      );
    };
    // while a node is paused or its link stalls, every request the gateway sends it waits out the
    // gateway's node timeout, so writes are acknowledged far more slowly
    const PAUSED_WRITES = 20;
    await step('warm-up', () => undefined, async () => {
      for (const m of client!.ring.members) await client!.status(m.id);
    });
    await step('SIGKILL n1', () => cluster.signal('n1', 'SIGKILL'), down('n1'));
    await step('restart n1', () => cluster.startNode('n1'), back('n1'));
    await step('SIGSTOP n2', () => cluster.signal('n2', 'SIGSTOP'), down('n2'), PAUSED_WRITES);
    await step('SIGCONT n2', () => cluster.signal('n2', 'SIGCONT'), back('n2'));
    await step('wipe n3', async () => {
      await cluster.signal('n3', 'SIGKILL');
      rmSync(cluster.dataDirOf('n3'), { recursive: true, force: true });
      await cluster.startNode('n3');
    }, back('n3'));
    await step('cut n4 (drop)', () => proxies.cut('n4', 'drop'), down('n4'));
    await step('heal', () => proxies.heal(), back('n4'));
    await step('cut n5 (stall)', () => proxies.cut('n5', 'stall'), down('n5'), PAUSED_WRITES);
    await step('heal', () => proxies.heal(), back('n5'));
    running = false;
    await Promise.all(clients);

    // ---- heal: hints replayed, one anti-entropy sweep, replicas converged
    await waitFor('every hint replayed', async () => {
      const held = await Promise.all(client!.ring.members.map(async (m) => (await client!.status(m.id)).hints));
      return held.every((h) => h === 0);
    }, 60_000, 250);
    const sweepStarted = new Date().toISOString();
    await queues.sweep('fault test');
    await waitFor(
      'a full sweep',
      async () => (await stats.lastSweeps()).filter((s) => s.finishedAt >= sweepStarted).length === client!.ring.partitions,
      120_000,
      250,
    );

    // the final state as a client reads it (R=N), and each primary's own versions
    const keys = [...new Set([...history.writes.values()].map((w) => w.key))];
    const finals = new Map<string, SiblingSet>();
    const replicas = new Map<string, Map<string, SiblingSet>>();
    for (const key of keys) {
      finals.set(key, (await client.get(key, { r: client.view.n })).siblings);
      const perNode = new Map<string, SiblingSet>();
      for (const node of client.view.primaries(client.view.partitionOf(key))) {
        const r = await client.request(node, { type: 'replicaRead', key });
        if (r.type === 'replicaReadReply') perNode.set(node, r.set);
      }
      replicas.set(key, perNode);
    }
    const verdict = check(history, { reads: finals, primaries: replicas }, { converge: true });
    const attempted = history.writes.size;
    const t = verdict.failedDeleteTombstones;
    process.stdout.write(
      `# faults: ${log.join(', ')}\n# ${attempted} writes attempted, ${verdict.acknowledged} acknowledged, ${verdict.found} found as siblings, the rest superseded by later writes over their context, ${verdict.lost} lost; ${proxies.swallowed} bytes swallowed by the stalled link\n` +
        `# tombstones of deletes that failed at the client yet were applied: ${t.byPast} known by their past, ${t.byElimination} by elimination, ${t.unknown} unknown\n`,
    );
    // a violation comes with the whole history of the keys it names
    for (const key of [...new Set(verdict.violations.flatMap((v) => v.match(/'([^']+)'/)?.[1] ?? []))].slice(0, 3)) {
      process.stdout.write(story(history, { reads: finals }, key).map((l) => `# ${l}\n`).join(''));
    }
    assert.deepEqual(verdict.violations, []);
    assert.equal(verdict.lost, 0);
    assert.ok(verdict.acknowledged > 100, `only ${verdict.acknowledged} writes were acknowledged`);
  } finally {
    // on a failure mid-run: stop the client loops, and resume a paused node so it can be stopped
    running = false;
    for (const n of cluster.nodes) n.process?.kill('SIGCONT');
    client?.close();
    for (const s of services.reverse()) await stopProcess(s);
    await cluster.stop().catch(() => undefined);
    await proxies.close();
    await queues.close();
    const keys = await redis.keys(`${keyPrefix(prefix)}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
