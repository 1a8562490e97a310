// Membership in the simulator: gossip convergence at scale, and ring changes with data
// moving while clients write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimCluster } from './cluster.ts';
import { partitionCounts } from '../../client/src/core/ring.ts';
import { digestOf } from '../../storage/core/ring-merge.ts';
import type { Reply } from '../../client/src/protocol/messages.ts';
import { coversDot, equalDots, type Dot } from '../../client/src/core/version-vector.ts';

async function change(
  c: SimCluster,
  via: string,
  req: { kind: 'join' | 'leave' | 'remove' | 'replace'; node: string; by?: string },
): Promise<Reply> {
  return c.scheduler.drive(
    c
      .client('operator')
      .request(
        via,
        {
          type: 'change',
          kind: req.kind,
          node: req.node,
          address: `sim:${(req.by ?? req.node).slice(1)}`,
          weight: 1,
          by: req.by ?? '',
          expectedVersion: 0,
        },
        10_000,
      ),
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
  process.stdout.write(
    `# failure detection: suspected by all in ${Math.round(detectMs)} ms, trusted again in ${Math.round(c.scheduler.now - back)} ms\n`,
  );
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
  await c.scheduler.runUntil(
    () => restored.generation > heardLater && c.running().every((n) => n.id === 'n3' || n.gossip.isUp('n3')),
    20_000,
    'every node trusting the restored n3',
  );
});

const CHANGE_SEEDS = (process.env.CHANGE_SEEDS ?? '11').split(',').map(Number);

for (const seed of CHANGE_SEEDS)
  test(`join, leave and replace while a writer writes, seed ${seed}: every acknowledged write is readable after the change commits`, async () => {
    const c = await SimCluster.create({ seed, nodes: 5 });
    const client = c.client('writer');
    const acked = new Map<string, string>();
    let i = 0;
    const write = async () => {
      const key = `key-${i % 400}`;
      const value = `v${i++}`;
      const reply = await client
        .request(
          c.ids[i % c.ids.length]!,
          { type: 'put', key, value: Buffer.from(value), deleted: false, context: null, w: 2, pw: 0 },
          2000,
        )
        .catch(() => null);
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
      c.scheduler.runUntil(
        () => c.running().every((n) => n.ring !== null && n.ring.version > version && n.ring.next === null),
        120_000,
        'commit everywhere',
      );

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
    assert.deepEqual(
      ring.members.map((m) => m.id),
      ['n1', 'n2', 'n3', 'n6', 'n7'],
    );
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
  const leavingOwner = {
    ...before,
    version: before.version + 5,
    next: before.owners,
    members: before.members.map((m, i) => (i === 0 ? { ...m, leaving: 'leave' as const } : m)),
  };
  const bad = await ask({ type: 'ringPush', cluster: 'sim', ring: leavingOwner });
  assert.ok(bad.type === 'error' && /not a staying member/.test(bad.message), JSON.stringify(bad));

  const taken = await ask({ type: 'change', kind: 'join', node: 'n9', address: 'sim:1', weight: 1, by: '', expectedVersion: 0 });
  assert.ok(taken.type === 'error', JSON.stringify(taken));
  const stale = await ask({
    type: 'change',
    kind: 'leave',
    node: 'n4',
    address: '',
    weight: 1,
    by: '',
    expectedVersion: before.version + 3,
  });
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

test('a join while a node hears no gossip: every version an old replica holds is on every new replica before the old one drops the range', async () => {
  const c = await SimCluster.create({ seed: 12, nodes: 5 });
  await c.scheduler.run(c.scheduler.now + 3000);
  const late = 'n5';
  // n5 hears no gossip: it keeps coordinating on the ring it has, sending only to the old replicas
  c.network.dropIf = (from, to, m) => (from === late || to === late) && /^(gossip|ringPush)/.test(m.type);
  const client = c.client('writer');
  let writing = true;
  let i = 0;
  const acked = new Set<string>();
  const writer = (async () => {
    while (writing) {
      const key = `late-${i++ % 300}`;
      const reply = await client
        .request(
          late,
          { type: 'put', key, value: Buffer.from(JSON.stringify({ id: `w${i}` })), deleted: false, context: null, w: 2, pw: 0 },
          2000,
        )
        .catch(() => null);
      if (reply?.type === 'putReply') acked.add(key);
      await new Promise<void>((r) => c.scheduler.at(2, r));
    }
  })();
  await c.scheduler.drive(c.add('n6'));
  const reply = await change(c, 'n1', { kind: 'join', node: 'n6' });
  assert.equal(reply.type, 'changeReply', JSON.stringify(reply));
  await c.scheduler.runUntil(
    () =>
      c
        .running()
        .filter((n) => n.id !== late)
        .every((n) => n.ring!.next === null && n.ring!.version > 1),
    60_000,
    'the join committing',
  );
  await c.scheduler.run(c.scheduler.now + 1000);
  c.network.dropIf = null;
  // every old replica's copy, taken after the commit and before the drop grace (2 s) ends
  const ring = c.node('n1').view;
  const held: { key: string; dots: Dot[] }[] = [];
  for (const n of c.running()) {
    for (let k = 0; k < 300; k++) {
      const key = `late-${k}`;
      if (ring.isPrimary(n.id, ring.partitionOf(key))) continue;
      const own = n.replica.readOwn(key);
      if (own.length > 0) held.push({ key, dots: own.map((v) => v.dot) });
    }
  }
  writing = false;
  await c.scheduler.drive(writer);
  await c.scheduler.runUntil(
    () => c.running().reduce((n, x) => n + x.transfers.keysDropped, 0) > 0,
    60_000,
    'the old replicas dropping what moved',
  );
  await c.scheduler.run(c.scheduler.now + 5000);
  let missing = 0;
  let checked = 0;
  for (const { key, dots } of held) {
    for (const p of ring.primaries(ring.partitionOf(key))) {
      const has = c.node(p).replica.readOwn(key);
      for (const dot of dots) {
        checked++;
        // held, or superseded by a version whose writer had seen it
        if (!has.some((v) => equalDots(v.dot, dot) || coversDot(v.past, dot))) missing++;
      }
    }
  }
  process.stdout.write(
    `# ${acked.size} keys written through a node that heard no gossip; ${checked} version copies checked on the new replicas, ${missing} missing\n`,
  );
  assert.ok(checked > 100, `only ${checked} copies checked`);
  assert.equal(missing, 0);
});

test('the claimant cut off decides a join while another member decides its removal: both plan version 2, the fork is noticed, every node ends on one ring and nothing acknowledged is lost', async () => {
  const c = await SimCluster.create({ seed: 13, nodes: 5 });
  await c.scheduler.run(c.scheduler.now + 3000);
  const client = c.client('writer');
  const acked = new Map<string, string>();
  let writing = true;
  let i = 0;
  const writer = (async () => {
    while (writing) {
      const key = `fork-${i % 200}`;
      const value = `v${i++}`;
      const reply = await client
        .request(c.ids[(i % 4) + 1]!, { type: 'put', key, value: Buffer.from(value), deleted: false, context: null, w: 2, pw: 0 }, 2000)
        .catch(() => null);
      if (reply?.type === 'putReply') acked.set(`${key}|${value}`, key);
      await new Promise<void>((r) => c.scheduler.at(3, r));
    }
  })();
  c.network.partition(['n1'], c.ids.filter((x) => x !== 'n1'));
  await c.scheduler.run(c.scheduler.now + 8000); // the others suspect the claimant
  await c.scheduler.drive(c.add('n6'));
  await c.scheduler.drive(c.add('n7'));
  const [removal, join] = await Promise.all([
    c.scheduler.drive(
      c
        .client('operator-a')
        .request('n2', { type: 'change', kind: 'replace', node: 'n1', address: 'sim:7', weight: 1, by: 'n7', expectedVersion: 0 }, 10_000),
    ),
    c.scheduler.drive(
      c
        .client('operator-b')
        .request('n1', { type: 'change', kind: 'join', node: 'n6', address: 'sim:6', weight: 1, by: '', expectedVersion: 0 }, 10_000),
    ),
  ]);
  assert.ok(removal.type === 'changeReply' && join.type === 'changeReply', JSON.stringify([removal, join]));
  assert.equal(removal.version, join.version, 'two different rings were decided at one version');
  // healed before either side commits: a side that commits first reaches the other at a higher
  // version, which is adopted like any newer ring and never compared as a fork
  c.network.healAll();
  await c.scheduler.runUntil(
    () => {
      const rings = c.running().map((n) => n.ring!);
      return rings.every((r) => r.next === null && digestOf(r).hash === digestOf(rings[0]!).hash);
    },
    120_000,
    'every node on one committed ring',
  );
  writing = false;
  await c.scheduler.drive(writer);
  await c.scheduler.run(c.scheduler.now + 5000);
  await c.scheduler.drive(c.repairer().sweep());
  const forks = c.running().reduce((n, x) => n + x.gossip.ringForks, 0);
  const members = c.running()[0]!.ring!.members.map((m) => m.id);
  let missing = 0;
  for (const [entry, key] of acked) {
    const value = entry.split('|')[1]!;
    const read = await c.scheduler.drive(client.request(members[0]!, { type: 'get', key, r: 3, pr: 0 }, 3000));
    if (read.type !== 'getReply' || !read.set.some((v) => Buffer.from(v.value).toString() === value)) missing++;
  }
  process.stdout.write(
    `# fork at version ${join.type === 'changeReply' ? join.version : '?'} noticed ${forks} times; the ring kept is [${members.join(',')}]; ${acked.size} writes acknowledged, ${missing} missing\n`,
  );
  assert.ok(forks > 0, 'no node noticed the fork');
  assert.equal(missing, 0);
});
