// Membership in the simulator: gossip convergence at scale, and ring changes with data
// moving while clients write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimCluster } from './cluster.ts';
import { partitionCounts } from '../../storage/core/ring.ts';
import type { Reply } from '../../storage/protocol/messages.ts';

async function change(c: SimCluster, via: string, req: { kind: 'join' | 'leave' | 'remove' | 'replace'; node: string; by?: string }): Promise<Reply> {
  return c.scheduler.drive(
    c.client('operator').request(via, { type: 'change', kind: req.kind, node: req.node, address: `sim:${(req.by ?? req.node).slice(1)}`, weight: 1, by: req.by ?? '', expectedVersion: 0 }, 10_000),
  );
}

test('gossip: after a change, every node holds the new ring within 2·log2(N)+5 rounds (10, 50, 200 nodes)', async () => {
  const rows: string[] = [];
  for (const [size, seeds] of [[10, 3], [50, 3], [200, 3], [10, 0], [50, 0], [200, 0]] as const) {
    const c = await SimCluster.create({ seed: size, nodes: size, partitions: size > 64 ? 256 : 64, seeds });
    await c.scheduler.run(c.scheduler.now + 3000);
    const leaver = c.ids[size - 1]!;
    const reply = await change(c, 'n1', { kind: 'leave', node: leaver });
    assert.equal(reply.type, 'changeReply', JSON.stringify(reply));
    const planned = reply.type === 'changeReply' ? reply.version : 0;
    const start = c.scheduler.now;
    await c.scheduler.runUntil(() => c.running().every((n) => (n.ring?.version ?? 0) >= planned), 120_000, 'ring convergence');
    const rounds = Math.ceil((c.scheduler.now - start) / 1000);
    const bound = 2 * Math.log2(size) + 5;
    rows.push(`${size} nodes, ${seeds ? `${seeds} seeds` : 'no seeds (pure epidemic)'}: ${rounds} rounds (bound ${bound.toFixed(1)})`);
    assert.ok(rounds <= bound, `${size} nodes took ${rounds} rounds`);
  }
  process.stdout.write(`# gossip convergence after a change:\n${rows.map((r) => `#   ${r}`).join('\n')}\n`);
});

test('a silent node is suspected by every other node, and trusted again when it speaks', async () => {
  const c = await SimCluster.create({ seed: 3, nodes: 5 });
  await c.scheduler.run(c.scheduler.now + 5000);
  const others = () => c.running().filter((n) => n.id !== 'n3');
  assert.ok(others().every((n) => n.gossip.isUp('n3')));
  c.crash('n3');
  const crashedAt = c.scheduler.now;
  await c.scheduler.runUntil(() => others().every((n) => !n.gossip.isUp('n3')), 10_000, 'every node suspecting n3');
  const detectMs = c.scheduler.now - crashedAt;
  await c.scheduler.drive(c.start('n3'));
  const back = c.scheduler.now;
  await c.scheduler.runUntil(() => others().every((n) => n.gossip.isUp('n3')), 10_000, 'every node trusting n3 again');
  process.stdout.write(`# failure detection: suspected by all in ${Math.round(detectMs)} ms, trusted again in ${Math.round(c.scheduler.now - back)} ms\n`);
});

test('a node started on a backup while the one peer that heard its later runs is down: when that peer returns, the node takes a newer generation and every node trusts it', async () => {
  const c = await SimCluster.create({ seed: 4, nodes: 5 });
  const settle = (ms = 3000) => c.scheduler.run(c.scheduler.now + ms);
  await settle();
  await c.scheduler.drive(c.stop('n3'));
  const backup = c.backup('n3');
  // two later runs of n3 that only n4 hears
  for (const id of ['n1', 'n2', 'n5']) await c.scheduler.drive(c.stop(id));
  for (let run = 0; run < 2; run++) {
    await c.scheduler.drive(c.start('n3'));
    await settle();
    await c.scheduler.drive(c.stop('n3'));
  }
  await c.scheduler.drive(c.stop('n4'));
  for (const id of ['n1', 'n2', 'n5']) await c.scheduler.drive(c.start(id));
  c.restore('n3', backup);
  await c.scheduler.drive(c.start('n3'));
  const restored = c.node('n3').identity;
  const heardLater = restored.generation + 1; // the second of the two later runs
  await settle();
  await c.scheduler.drive(c.start('n4'));
  await c.scheduler.runUntil(() => restored.generation > heardLater && c.running().every((n) => n.id === 'n3' || n.gossip.isUp('n3')), 20_000, 'every node trusting the restored n3');
});

const CHANGE_SEEDS = (process.env.CHANGE_SEEDS ?? '11').split(',').map(Number);

for (const seed of CHANGE_SEEDS) test(`join, leave and replace while a writer writes, seed ${seed}: every acknowledged write is readable after the change commits`, async () => {
  const c = await SimCluster.create({ seed, nodes: 5 });
  const client = c.client('writer');
  const acked = new Map<string, string>();
  let i = 0;
  const write = async () => {
    const key = `key-${i % 400}`;
    const value = `v${i++}`;
    const reply = await client.request(c.ids[i % c.ids.length]!, { type: 'put', key, value: Buffer.from(value), deleted: false, context: null, w: 2, pw: 0 }, 2000).catch(() => null);
    if (reply?.type === 'putReply') acked.set(`${key}|${value}`, key);
  };
  for (let k = 0; k < 400; k++) await c.scheduler.drive(write());
  let writing = true;
  const writer = (async () => {
    while (writing) {
      await write();
      await new Promise<void>((r) => c.scheduler.at(5, r));
    }
  })();
  const committed = async (version: number) =>
    c.scheduler.runUntil(() => c.running().every((n) => n.ring !== null && n.ring.version > version && n.ring.next === null), 120_000, 'commit everywhere');

  await c.scheduler.drive(c.add('n6'));
  let reply = await change(c, 'n2', { kind: 'join', node: 'n6' });
  assert.equal(reply.type, 'changeReply', JSON.stringify(reply));
  await committed(reply.type === 'changeReply' ? reply.version : 0);
  const counts = partitionCounts(c.node('n1').ring!);
  assert.ok(Math.abs(counts.get('n6')! - 64 / 6) <= 1, `n6 owns ${counts.get('n6')}`);

  reply = await change(c, 'n3', { kind: 'leave', node: 'n4' });
  assert.equal(reply.type, 'changeReply', JSON.stringify(reply));
  await committed(reply.type === 'changeReply' ? reply.version : 0);

  c.crash('n5');
  await c.scheduler.run(c.scheduler.now + 8000);
  await c.scheduler.drive(c.add('n7'));
  reply = await change(c, 'n1', { kind: 'replace', node: 'n5', by: 'n7' });
  assert.equal(reply.type, 'changeReply', JSON.stringify(reply));
  await committed(reply.type === 'changeReply' ? reply.version : 0);

  writing = false;
  await c.scheduler.drive(writer);
  await c.scheduler.run(c.scheduler.now + 3000);
  const ring = c.node('n1').ring!;
  assert.deepEqual(ring.members.map((m) => m.id), ['n1', 'n2', 'n3', 'n6', 'n7']);
  let missing = 0;
  for (const [entry, key] of acked) {
    const value = entry.split('|')[1]!;
    const read = await c.scheduler.drive(client.request('n1', { type: 'get', key, r: 2, pr: 0 }, 2000));
    if (read.type !== 'getReply' || !read.set.some((v) => Buffer.from(v.value).toString() === value)) missing++;
  }
  assert.equal(missing, 0, `${missing} of ${acked.size} acknowledged writes are missing`);
});

test('bad membership input gets a clear error and changes nothing', async () => {
  const c = await SimCluster.create({ seed: 21, nodes: 4 });
  const op = c.client('operator');
  const before = c.node('n2').ring!;
  const ask = (req: Parameters<typeof op.request>[1]) => c.scheduler.drive(op.request('n2', req, 5000));

  const foreign = await ask({ type: 'gossip', cluster: 'other', from: 'x1', digest: { version: 99, hash: 'ff' }, beats: [] });
  assert.ok(foreign.type === 'error' && foreign.code === 'BAD_CLUSTER' && /cluster 'other'/.test(foreign.message), JSON.stringify(foreign));

  const wrongQ = { ...before, version: before.version + 5, partitions: 128, owners: [...before.owners, ...before.owners] };
  const malformed = await ask({ type: 'ringPush', cluster: 'sim', ring: wrongQ });
  assert.ok(malformed.type === 'error' && /this cluster has 64/.test(malformed.message), JSON.stringify(malformed));
  const leavingOwner = { ...before, version: before.version + 5, next: before.owners, members: before.members.map((m, i) => (i === 0 ? { ...m, leaving: 'leave' as const } : m)) };
  const bad = await ask({ type: 'ringPush', cluster: 'sim', ring: leavingOwner });
  assert.ok(bad.type === 'error' && /not a staying member/.test(bad.message), JSON.stringify(bad));

  const taken = await ask({ type: 'change', kind: 'join', node: 'n9', address: 'sim:1', weight: 1, by: '', expectedVersion: 0 });
  assert.ok(taken.type === 'error', JSON.stringify(taken));
  const stale = await ask({ type: 'change', kind: 'leave', node: 'n4', address: '', weight: 1, by: '', expectedVersion: before.version + 3 });
  assert.ok(stale.type === 'error' && stale.code === 'STALE_RING' && /at version 1, not 4/.test(stale.message), JSON.stringify(stale));
  const unknown = await ask({ type: 'change', kind: 'remove', node: 'n99', address: '', weight: 1, by: '', expectedVersion: 0 });
  assert.ok(unknown.type === 'error' && /n99 is not a member/.test(unknown.message), JSON.stringify(unknown));

  await c.scheduler.run(c.scheduler.now + 3000);
  for (const n of c.running()) assert.deepEqual(n.ring, before, `${n.id}'s ring changed`);
});

test('a node restored from a backup and started twice before its check finished (its generation now past the lost run\'s) still goes on as a new actor', async () => {
  const c = await SimCluster.create({ seed: 8, nodes: 5 });
  const settle = (ms = 3000) => c.scheduler.run(c.scheduler.now + ms);
  await settle();
  await c.scheduler.drive(c.stop('n3'));
  const backup = c.backup('n3');
  await c.scheduler.drive(c.start('n3')); // the run the backup does not know, heard by every peer
  await settle();
  const lost = c.node('n3').identity.actor;
  c.restore('n3', backup);
  // the restored copy is started and dies before it has heard from its peers: its generation moves past the lost run's
  await c.scheduler.drive(c.start('n3'));
  c.crash('n3');
  await c.scheduler.drive(c.start('n3'));
  await settle();
  const restored = c.node('n3').identity;
  assert.notEqual(restored.actor, lost, 'the restored node must not make dots under the actor of the run it lost');
  assert.ok(restored.actor.startsWith('n3@'));
});
