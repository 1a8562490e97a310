// The storage core's oracle: simulated clients doing read-then-write, blind writes and
// deletes through random nodes while replicas crash, restart and are cut off; afterwards
// the checker's properties hold (see checker.ts), and every key takes a read-modify-write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimCluster } from './cluster.ts';
import { simulate } from './simulate.ts';
import { PROFILES } from './swarm.ts';

const SEEDS = Number(process.env.ORACLE_SEEDS ?? 12);

for (let seed = 1; seed <= SEEDS; seed++) {
  test(`oracle, seed ${seed}: no acknowledged write is lost, nothing unwritten appears, nothing overwritten returns`, async () => {
    const r = await simulate(seed, PROFILES.oracle());
    assert.deepEqual(r.verdict.violations, [], `seed ${seed} (replay: npm run sim -- --profile oracle --seed ${seed})`);
    assert.ok(r.verdict.acknowledged > 20, `seed ${seed}: only ${r.verdict.acknowledged} writes were acknowledged`);
  });
}

test('two blind writes through the same coordinator both survive as siblings', async () => {
  const cluster = await SimCluster.create({ seed: 5, nodes: 5 });
  const key = 'cart';
  const coordinator = cluster.node('n1').view.primaries(cluster.node('n1').view.partitionOf(key))[0]!;
  const client = cluster.client('c');
  for (const id of ['a', 'b']) {
    const reply = await cluster.scheduler.drive(
      client.request(
        coordinator,
        { type: 'put', key, value: Buffer.from(JSON.stringify({ id })), deleted: false, context: null, w: 2, pw: 0 },
        2000,
      ),
    );
    assert.equal(reply.type, 'putReply');
  }
  const read = await cluster.scheduler.drive(client.request(coordinator, { type: 'get', key, r: 3, pr: 0 }, 2000));
  assert.ok(read.type === 'getReply');
  assert.deepEqual(read.set.map((v) => Buffer.from(v.value).toString()).sort(), ['{"id":"a"}', '{"id":"b"}']);
  assert.equal(new Set(read.set.map((v) => v.dot.actor)).size, 1, 'both made by one coordinator');
});
