// Repair logic in the simulator, driven by tick: anti-entropy, hinted handoff, and tombstone
// reclamation, deterministic by seed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimCluster } from './cluster.ts';
import { contextOf } from '../../client/src/core/siblings.ts';
import type { Reply } from '../../client/src/protocol/messages.ts';

async function put(
  c: SimCluster,
  key: string,
  value: string,
  context: Parameters<typeof contextOf>[0] | null = null,
  deleted = false,
): Promise<Reply> {
  return c.scheduler.drive(
    c
      .client('writer')
      .request(
        'n1',
        { type: 'put', key, value: Buffer.from(value), deleted, context: context ? contextOf(context) : null, w: 2, pw: 0 },
        3000,
      ),
  );
}

async function roots(c: SimCluster, partition: number): Promise<Set<string>> {
  const view = c.node('n1').view;
  const out = new Set<string>();
  for (const n of view.primaries(partition)) out.add(c.node(n).replica.tree(partition).root().toString('hex'));
  return out;
}

test('anti-entropy: a replica whose replication messages were dropped (no hints) is repaired by one sweep, sending only what differs', async () => {
  const c = await SimCluster.create({ seed: 41, nodes: 5, hintMaxBytes: 0, localHandoffEveryMs: 0 });
  c.network.dropIf = (_from, to, m) => to === 'n3' && m.type === 'replicaWrite';
  const keys = Array.from({ length: 600 }, (_, i) => `d${i}`);
  for (const k of keys) assert.equal((await put(c, k, k)).type, 'putReply');
  c.network.dropIf = null;
  const view = c.node('n1').view;
  const divergent = keys.filter((k) => view.primaries(view.partitionOf(k)).includes('n3') && c.node('n3').replica.readOwn(k).length === 0);
  assert.ok(divergent.length > 100, `${divergent.length} divergent keys`);
  const report = await c.scheduler.drive(c.repairer().sweep());
  assert.ok(report.rootsEqual);
  for (let p = 0; p < 64; p++) assert.equal((await roots(c, p)).size, 1, `key range ${p}`);
  assert.equal(report.keysSent, divergent.length, 'each divergent key crossed once');
  process.stdout.write(
    `# simulated anti-entropy: ${divergent.length} divergent keys, ${report.keysCompared} compared, ${report.keysSent} sent\n`,
  );
});

test('hinted handoff by tick: a crashed replica gets its hints on return and no hint is left', async () => {
  const c = await SimCluster.create({ seed: 42, nodes: 5, localHandoffEveryMs: 0 });
  c.crash('n2');
  const keys = Array.from({ length: 300 }, (_, i) => `h${i}`);
  for (const k of keys) await put(c, k, k);
  await c.scheduler.drive(c.start('n2'));
  await c.scheduler.run(c.scheduler.now + 3000);
  const stats = await c.scheduler.drive(c.repairer().replayAll());
  assert.ok(stats.deleted > 50);
  assert.equal(c.running().reduce((n, x) => n + x.replica.hintCount, 0), 0);
  const view = c.node('n1').view;
  for (const k of keys) if (view.primaries(view.partitionOf(k)).includes('n2')) assert.equal(c.node('n2').replica.readOwn(k).length, 1, k);
});

test('tombstones are reclaimed only when every primary holds them, no hint is pending and the grace period has passed; an old context never covers a later write', async () => {
  const c = await SimCluster.create({ seed: 43, nodes: 5, localHandoffEveryMs: 0 });
  const repair = c.repairer(10_000);
  const read = async (key: string) => {
    const r = await c.scheduler.drive(c.client('reader').request('n2', { type: 'get', key, r: 3, pr: 0 }, 3000));
    assert.equal(r.type, 'getReply');
    return r.type === 'getReply' ? r.set : [];
  };
  await put(c, 'gone', 'v1');
  const old = await read('gone');
  await put(c, 'gone', '', old, true);
  // a second key whose delete leaves a hint behind: a primary is down while it is deleted
  await put(c, 'hinted', 'v1');
  const view = c.node('n1').view;
  const victim = view.primaries(view.partitionOf('hinted')).find((n) => n !== 'n1')!;
  const before = await read('hinted');
  c.crash(victim);
  await put(c, 'hinted', '', before, true);
  await c.scheduler.drive(c.start(victim));

  let r = await c.scheduler.drive(repair.sweep());
  assert.equal(r.reclaimed, 0, 'nothing is reclaimed before the grace period');
  await c.scheduler.run(c.scheduler.now + 11_000);
  r = await c.scheduler.drive(repair.sweep());
  const p = view.partitionOf('gone');
  assert.ok(view.primaries(p).every((n) => c.node(n).replica.readOwn('gone').length === 0), 'the tombstone is gone from every primary');
  assert.ok(r.reclaimed >= 1);
  const hintedP = view.partitionOf('hinted');
  assert.ok(
    view.primaries(hintedP).some((n) => c.node(n).replica.readOwn('hinted').length > 0),
    'a key with a pending hint keeps its tombstone',
  );

  // after the reclaim: a new write, then a write over the context read before the delete
  await put(c, 'gone', 'after');
  await put(c, 'gone', 'stale-writer', old);
  const values = (await read('gone')).map((v) => Buffer.from(v.value).toString()).sort();
  assert.deepEqual(values, ['after', 'stale-writer'], 'the old context did not cover the new write');
});

test('hint expiry never drops the only copies of a write: expired hints are handed to the key\'s primaries first', async () => {
  const c = await SimCluster.create({ seed: 44, nodes: 5, localHandoffEveryMs: 0, hintMaxAgeMs: 1000 });
  await c.scheduler.run(c.scheduler.now + 2000);
  const key = 'expiring';
  const view = c.node('n1').view;
  const primaries = [...view.primaries(view.partitionOf(key))];
  const fallbacks = c.ids.filter((id) => !primaries.includes(id));
  // every primary is down: two fallbacks take the write as hints, and acknowledge it with W=2
  for (const p of primaries) c.crash(p);
  await c.scheduler.run(c.scheduler.now + 8000); // the fallbacks suspect the primaries
  const put = await c.scheduler.drive(
    c
      .client('writer')
      .request(
        fallbacks[0]!,
        { type: 'put', key, value: Buffer.from('{"id":"only-in-hints"}'), deleted: false, context: null, w: 2, pw: 0 },
        3000,
      ),
  );
  assert.equal(put.type, 'putReply', JSON.stringify(put));
  assert.ok(fallbacks.every((f) => c.node(f).replica.hintCount > 0), 'both acknowledgments are hints');
  // the primaries return empty-handed, and the hints pass their age cap before anyone replays them
  for (const p of primaries) await c.scheduler.drive(c.start(p));
  await c.scheduler.run(c.scheduler.now + 3000);
  const expired = await c.scheduler.drive(c.repairer().expire(fallbacks));
  assert.ok(expired > 0, 'the expiry pass ran on expired hints');
  const read = await c.scheduler.drive(c.client('reader').request(primaries[0]!, { type: 'get', key, r: 3, pr: 0 }, 3000));
  assert.ok(read.type === 'getReply', JSON.stringify(read));
  assert.deepEqual(
    read.set.map((v) => Buffer.from(v.value).toString()),
    ['{"id":"only-in-hints"}'],
    'the acknowledged write is still there',
  );
});

test('a fallback that made dots for a key and handed its hints back writes the key again as a new actor: a context read from its later write never covers the earlier one', async () => {
  const c = await SimCluster.create({ seed: 45, nodes: 5, localHandoffEveryMs: 0 });
  await c.scheduler.run(c.scheduler.now + 2000);
  const key = 'fallback-dots';
  const view = c.node('n1').view;
  const primaries = [...view.primaries(view.partitionOf(key))];
  const [via] = c.ids.filter((id) => !primaries.includes(id));
  const client = c.client('writer');
  const ask = (m: Parameters<typeof client.request>[1]) => c.scheduler.drive(client.request(via!, m, 3000));
  const primariesDown = async () => {
    for (const p of primaries) c.crash(p);
    await c.scheduler.run(c.scheduler.now + 8000); // the fallbacks suspect the primaries
  };
  const primariesBack = async () => {
    for (const p of primaries) await c.scheduler.drive(c.start(p));
    await c.scheduler.run(c.scheduler.now + 3000);
  };
  // the fallback coordinates a write while every primary is down, and hands it back later
  await primariesDown();
  const first = await ask({ type: 'put', key, value: Buffer.from('first'), deleted: false, context: null, w: 2, pw: 0 });
  assert.equal(first.type, 'putReply', JSON.stringify(first));
  await primariesBack();
  await c.scheduler.drive(c.repairer().replayAll());
  assert.equal(c.node(via!).replica.hintCount, 0, 'the fallback handed its hints back');
  // the primaries go down again (holding 'first'); the fallback writes the key again, blind
  await primariesDown();
  const second = await ask({ type: 'put', key, value: Buffer.from('second'), deleted: false, context: null, w: 2, pw: 0 });
  assert.equal(second.type, 'putReply', JSON.stringify(second));
  // a client reads what the fallbacks hold ('second' only) and writes over it with that context
  const read = await ask({ type: 'get', key, r: 2, pr: 0 });
  assert.ok(read.type === 'getReply', JSON.stringify(read));
  assert.deepEqual(read.set.map((v) => Buffer.from(v.value).toString()), ['second']);
  const third = await ask({ type: 'put', key, value: Buffer.from('third'), deleted: false, context: contextOf(read.set), w: 2, pw: 0 });
  assert.equal(third.type, 'putReply', JSON.stringify(third));
  await primariesBack();
  await c.scheduler.drive(c.repairer().replayAll());
  const after = await c.scheduler.drive(c.client('reader').request(primaries[0]!, { type: 'get', key, r: 3, pr: 0 }, 3000));
  assert.ok(after.type === 'getReply', JSON.stringify(after));
  assert.deepEqual(
    after.set.map((v) => Buffer.from(v.value).toString()).sort(),
    ['first', 'third'],
    "'first' was never seen by the writer of 'third', so it stays as a sibling",
  );
});

test('a key is not reclaimed while a node that no longer replicates its range still holds a copy: the old owner\'s last pass cannot bring a deleted version back', async () => {
  const c = await SimCluster.create({ seed: 47, nodes: 5, localHandoffEveryMs: 0, dropGraceMs: 5000 });
  await c.scheduler.run(c.scheduler.now + 2000);
  const keys = Array.from({ length: 40 }, (_, i) => `moving-${i}`);
  const before = c.node('n1').view;
  for (const k of keys) assert.equal((await put(c, k, k)).type, 'putReply');
  await c.scheduler.drive(c.add('n6'));
  const join = await c.scheduler.drive(
    c
      .client('operator')
      .request('n1', { type: 'change', kind: 'join', node: 'n6', address: 'sim:6', weight: 1, by: '', expectedVersion: 0 }, 10_000),
  );
  assert.equal(join.type, 'changeReply', JSON.stringify(join));
  await c.scheduler.runUntil(() => c.running().every((n) => n.ring!.next === null && n.ring!.version > 1), 60_000, 'the join committing');
  const after = c.node('n1').view;
  // a key whose range moved: an old owner still holds it, within its drop grace
  const key = keys.find((k) => before.primaries(before.partitionOf(k)).some((n) => !after.isPrimary(n, after.partitionOf(k))))!;
  const oldOwner = before.primaries(before.partitionOf(key)).find((n) => !after.isPrimary(n, after.partitionOf(key)))!;
  assert.equal(c.node(oldOwner).replica.readOwn(key).length, 1, `${oldOwner} still holds '${key}'`);
  // the key is deleted over a full read, and repair runs past the reclaim grace
  const read = await c.scheduler.drive(c.client('reader').request('n1', { type: 'get', key, r: 3, pr: 0 }, 3000));
  assert.ok(read.type === 'getReply' && read.set.length === 1, JSON.stringify(read));
  assert.equal((await put(c, key, '', read.set, true)).type, 'putReply');
  const repair = c.repairer(500);
  await c.scheduler.drive(repair.sweep());
  await c.scheduler.run(c.scheduler.now + 600);
  await c.scheduler.drive(repair.sweep());
  assert.ok(c.node(oldOwner).replica.readOwn(key).length > 0, 'the old owner has not dropped the range yet');
  // the old owner's last pass, and its drop
  await c.scheduler.runUntil(() => c.node(oldOwner).replica.readOwn(key).length === 0, 60_000, `${oldOwner} dropping the range`);
  await c.scheduler.run(c.scheduler.now + 1000);
  await c.scheduler.drive(repair.sweep());
  const final = await c.scheduler.drive(c.client('reader').request('n1', { type: 'get', key, r: 3, pr: 0 }, 3000));
  assert.ok(final.type === 'getReply', JSON.stringify(final));
  assert.deepEqual(final.set.filter((v) => !v.deleted).map((v) => Buffer.from(v.value).toString()), [], 'the deleted value stays deleted');
});

test('a hint expires by its age even when its holder restarted since it was stored (monotonic clocks start again with each process)', async () => {
  const c = await SimCluster.create({ seed: 48, nodes: 5, localHandoffEveryMs: 0, hintMaxAgeMs: 60_000 });
  await c.scheduler.run(c.scheduler.now + 30_000);
  const key = 'aging';
  const view = c.node('n1').view;
  const primaries = [...view.primaries(view.partitionOf(key))];
  const fallback = c.ids.find((id) => !primaries.includes(id))!;
  c.crash(primaries[2]!);
  await c.scheduler.run(c.scheduler.now + 8000);
  const put = await c.scheduler.drive(
    c
      .client('writer')
      .request(fallback, { type: 'put', key, value: Buffer.from('{"id":"aging"}'), deleted: false, context: null, w: 2, pw: 0 }, 3000),
  );
  assert.equal(put.type, 'putReply', JSON.stringify(put));
  const holders = c.running().filter((n) => n.replica.hintCount > 0).map((n) => n.id);
  assert.ok(holders.length > 0, 'a fallback holds a hint');
  // the holders restart, and the hint passes its age cap
  for (const h of holders) {
    c.crash(h);
    await c.scheduler.drive(c.start(h));
  }
  await c.scheduler.drive(c.start(primaries[2]!));
  await c.scheduler.run(c.scheduler.now + 61_000);
  const expired = await c.scheduler.drive(c.repairer().expire(holders));
  assert.ok(expired > 0, 'the hint is past its age cap');
});
