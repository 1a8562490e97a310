// Membership against real node processes: failure detection, and join, leave and replace of
// a killed node while a writer keeps writing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StoreError } from '../../client/src/core/errors.ts';
import { walkOwners, partitionCounts } from '../../client/src/core/ring.ts';
import type { DynamoClient } from '../../client/src/client.ts';
import type { LocalCluster } from '../../bin/launcher.ts';
import { withCluster } from '../helpers/cluster.ts';
import { waitFor } from '../helpers/wait.ts';

/** Every other running member's view of `target`. */
async function seenBy(client: DynamoClient, cluster: LocalCluster, target: string): Promise<boolean[]> {
  const running = (id: string) => cluster.nodes.some((n) => n.id === id && n.process?.exitCode === null && n.process.signalCode === null);
  const others = client.ring.members.filter((m) => m.id !== target && running(m.id));
  return Promise.all(others.map(async (m) => (await client.status(m.id)).members.find((x) => x.id === target)?.reachable ?? false));
}

test('a peer stopped with SIGKILL or SIGSTOP is unreachable for every other node within 10 s, and reachable within 10 s of returning', async () => {
  await withCluster({ nodes: 5, basePort: 7401 }, async ({ cluster, client }) => {
    await waitFor('all peers reachable', async () => (await seenBy(client, cluster, 'n3')).every(Boolean), 10_000);
    const timings: string[] = [];
    for (const [target, stop, resume] of [['n3', 'SIGKILL', 'restart'], ['n2', 'SIGSTOP', 'SIGCONT']] as const) {
      let t = performance.now();
      await cluster.signal(target, stop);
      await waitFor(
        `${target} unreachable everywhere after ${stop}`,
        async () => (await seenBy(client, cluster, target)).every((up) => !up),
        10_000,
        100,
      );
      timings.push(`${stop}: unreachable everywhere after ${Math.round(performance.now() - t)} ms`);
      t = performance.now();
      if (resume === 'restart') await cluster.startNode(target);
      else await cluster.signal(target, 'SIGCONT');
      await waitFor(
        `${target} reachable everywhere after ${resume}`,
        async () => (await seenBy(client, cluster, target)).every(Boolean),
        10_000,
        100,
      );
      timings.push(`${resume}: reachable again after ${Math.round(performance.now() - t)} ms`);
    }
    process.stdout.write(`# failure detection (real processes): ${timings.join('; ')}\n`);
  });
});

test('join, leave and replace of a killed node while writing: every acknowledged write survives, data moves only where it must', async () => {
  await withCluster({ nodes: 5, basePort: 7411 }, async ({ cluster, client }) => {
    const KEYS = 10_000;
    const value = (i: number) => Buffer.from(`value-${i}-${'x'.repeat(150)}`);
    for (let i = 0; i < KEYS; i += 500) await Promise.all(Array.from({ length: 500 }, (_, j) => client.put(`k${i + j}`, value(i + j))));
    // a few keys with two siblings each
    for (let i = 0; i < 20; i++)
      await Promise.all([client.put(`twin${i}`, Buffer.from('left')), client.put(`twin${i}`, Buffer.from('right'))]);

    const acked = new Map<string, string>();
    let writing = true;
    let seq = 0;
    const writer = (async () => {
      while (writing) {
        const key = `w${seq++}`;
        try {
          await client.put(key, Buffer.from(key), { w: 2 });
          acked.set(key, key);
        } catch (e) {
          if (!(e instanceof StoreError)) throw e;
        }
      }
    })();

    const report: string[] = [];
    const runChange = async (label: string, request: Parameters<DynamoClient['request']>[1], newcomer?: string) => {
      const before = client.ring;
      const placedBefore = await totalPlaced(client, cluster);
      const reply = await client.request('n1', request);
      assert.equal(reply.type, 'changeReply', JSON.stringify(reply));
      const planned = reply.type === 'changeReply' ? reply.version : 0;
      const started = performance.now();
      await waitFor(`${label} to commit`, async () => {
        await client.refreshRing();
        return client.ring.version > planned && client.ring.next === null;
      }, 120_000, 200);
      const after = client.ring;
      const placed = (await totalPlaced(client, cluster)) - placedBefore;
      const copies = 3 * (KEYS + 20 + acked.size);
      const counts = partitionCounts(after);
      report.push(
        `${label}: committed in ${((performance.now() - started) / 1000).toFixed(1)} s, ${placed} key copies placed of ${copies} (${((100 * placed) / copies).toFixed(1)}%)`,
      );
      if (newcomer) {
        assert.ok(
          Math.abs(counts.get(newcomer)! - after.partitions / after.members.length) <= 1,
          `${newcomer} owns ${counts.get(newcomer)} partitions`,
        );
        // the copies it needed: the key ranges it now replicates
        let share = 0;
        for (let p = 0; p < after.partitions; p++)
          if (walkOwners(after.owners, p, 3).includes(newcomer) && !walkOwners(before.owners, p, 3).includes(newcomer)) share++;
        const expected = (share / after.partitions) * (KEYS + 20 + acked.size);
        assert.ok(placed <= expected * 1.25 + 100, `${placed} copies placed, the newcomer's share is about ${Math.round(expected)}`);
        assert.ok(placed <= copies / 6 * 1.3, `${placed} copies is more than about a sixth of ${copies}`);
      } else {
        assert.ok(placed <= copies / 5 * 1.3, `${placed} copies placed for a leave of one of six nodes`);
      }
    };

    const n6 = cluster.addNode();
    await cluster.startNode(n6.id);
    await runChange(
      'join of n6',
      { type: 'change', kind: 'join', node: n6.id, address: n6.address, weight: 1, by: '', expectedVersion: 0 },
      n6.id,
    );

    await runChange('leave of n2', { type: 'change', kind: 'leave', node: 'n2', address: '', weight: 1, by: '', expectedVersion: 0 });

    await cluster.signal('n4', 'SIGKILL');
    await waitFor('n4 seen dead', async () => (await seenBy(client, cluster, 'n4')).every((up) => !up), 15_000, 200);
    const n7 = cluster.addNode();
    await cluster.startNode(n7.id);
    await runChange(
      'replace of killed n4 by n7',
      { type: 'change', kind: 'replace', node: 'n4', address: n7.address, weight: 1, by: n7.id, expectedVersion: 0 },
      n7.id,
    );

    writing = false;
    await writer;
    process.stdout.write(`# ${report.join('\n# ')}\n# ${acked.size} writes acknowledged during the changes\n`);
    // a write acknowledged by a replica and a fallback (sloppy quorum) is complete once the hint is delivered
    await waitFor('every hint delivered', async () => {
      const held = await Promise.all(client.ring.members.map(async (m) => (await client.status(m.id)).hintBytes));
      return held.every((b) => b === 0);
    }, 30_000, 250);
    await cluster.signal('n2', 'SIGTERM');

    // copies where they belong, seen without a read repairing them: every acknowledged write
    // written during the changes is on at least W=2 of its current primaries
    const sample = [...acked.keys()].filter((_, i) => i % Math.max(1, Math.floor(acked.size / 300)) === 0);
    const copyCounts = new Map<number, number>();
    for (const key of sample) {
      const copies = (await client.replicas(key)).filter(
        (c) => c.primary && c.hintFor === null && c.set.some((v) => Buffer.from(v.value).toString() === key),
      ).length;
      copyCounts.set(copies, (copyCounts.get(copies) ?? 0) + 1);
    }
    process.stdout.write(
      `# copies on current primaries, ${sample.length} writes sampled (read without repair): ${[...copyCounts]
        .sort()
        .map(([c, n]) => `${n} with ${c}`)
        .join(', ')}\n`,
    );
    assert.equal((copyCounts.get(0) ?? 0) + (copyCounts.get(1) ?? 0), 0, 'an acknowledged write has fewer than W copies on its primaries');

    // every acknowledged write, and every sibling, is readable
    const expect = new Map<string, string[]>();
    for (let i = 0; i < KEYS; i++) expect.set(`k${i}`, [value(i).toString()]);
    for (let i = 0; i < 20; i++) expect.set(`twin${i}`, ['left', 'right']);
    for (const k of acked.keys()) expect.set(k, [k]);
    const keys = [...expect.keys()];
    const missing: string[] = [];
    for (let i = 0; i < keys.length; i += 500) {
      const chunk = keys.slice(i, i + 500);
      const results = await client.getMany(chunk, { r: 2 });
      results.forEach((r, j) => {
        const want = expect.get(chunk[j]!)!;
        if (r instanceof StoreError || want.some((w) => !r.siblings.some((s) => Buffer.from(s.value).toString() === w)))
          missing.push(chunk[j]!);
      });
    }
    if (missing.length > 0) {
      // say where the missing keys are, to tell a lost write from a stale read
      for (const key of missing.slice(0, 5)) {
        const where: string[] = [];
        for (const m of client.ring.members) {
          const r = await client.request(m.id, { type: 'replicaRead', key }).catch(() => null);
          where.push(
            `${m.id}:${r?.type === 'replicaReadReply' ? r.set.map((v) => Buffer.from(v.value).toString().slice(0, 12)).join('|') || '-' : '?'}`,
          );
        }
        process.stdout.write(
          `# missing ${key} (primaries ${client.view.primaries(client.view.partitionOf(key)).join(',')}): ${where.join(' ')}\n`,
        );
      }
    }
    assert.equal(missing.length, 0, `${missing.length} of ${keys.length} acknowledged keys are not readable with all their siblings`);
    assert.deepEqual(client.ring.members.map((m) => m.id).sort(), ['n1', 'n3', 'n5', 'n6', 'n7']);
  });
});

async function totalPlaced(client: DynamoClient, cluster: LocalCluster): Promise<number> {
  let total = 0;
  for (const m of client.ring.members) {
    const n = cluster.nodes.find((x) => x.id === m.id);
    if (n?.process?.exitCode !== null || n.process?.signalCode) continue;
    total += ((await client.status(m.id).catch(() => null))?.copiesPlaced ?? 0);
  }
  return total;
}
