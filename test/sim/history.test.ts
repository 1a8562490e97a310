// A key's causal history stays bounded for the life of the key, and the key stays writable:
// its coordinator crashes a thousand times, with writes in flight, while a client reads and
// writes back with its context and another writes blind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimCluster } from './cluster.ts';
import { actorsOf } from './checker.ts';
import { contextOf, type SiblingSet } from '../../client/src/core/siblings.ts';
import type { Reply, Request } from '../../client/src/protocol/messages.ts';

const SEED = Number(process.env.HISTORY_SEED ?? 1100);
const ROUNDS = Number(process.env.HISTORY_ROUNDS ?? 1000);

test(`the coordinator of a key crash-restarts ${ROUNDS} times between (and during) read-modify-writes: one version at the end, and at most N+1 actors throughout`, async () => {
  process.stdout.write(`# seed ${SEED} (HISTORY_SEED=${SEED} repeats it)\n`);
  const c = await SimCluster.create({ seed: SEED, nodes: 5, partitions: 16, disk: { commitMaxMs: 1, syncMaxMs: 20 } });
  await c.scheduler.run(c.scheduler.now + 2000);
  const key = 'hot';
  const view = c.node('n1').view;
  const primaries = view.primaries(view.partitionOf(key));
  const coordinator = primaries[0]!;
  const random = c.random.fork(7);
  const reader = c.client('reader');
  const blind = c.client('blind');
  const ask = (via: Transport, to: string, m: Request): Promise<Reply | null> =>
    c.scheduler.drive(via.request(to, m, 2000).catch(() => null));
  type Transport = ReturnType<SimCluster['client']>;
  let maxActors = 0;
  let maxSiblings = 0;
  let acked = 0;
  let crashesMidWrite = 0;
  const look = () => {
    for (const n of primaries) {
      if (!c.isRunning(n)) continue;
      const set = c.node(n).replica.readOwn(key);
      maxActors = Math.max(maxActors, actorsOf(set));
      maxSiblings = Math.max(maxSiblings, set.length);
    }
  };
  for (let round = 0; round < ROUNDS; round++) {
    const read = await ask(reader, coordinator, { type: 'get', key, r: 3, pr: 0 });
    const set: SiblingSet = read?.type === 'getReply' ? read.set : [];
    if (round % 10 === 5)
      await ask(blind, primaries[1 + (round % 2)]!, {
        type: 'put',
        key,
        value: Buffer.from(`blind ${round}`),
        deleted: false,
        context: null,
        w: 2,
        pw: 0,
      });
    const put = reader
      .request(
        coordinator,
        { type: 'put', key, value: Buffer.from(`round ${round}`), deleted: false, context: read ? contextOf(set) : null, w: 2, pw: 0 },
        2000,
      )
      .catch(() => null);
    if (random.chance(0.3)) {
      // the crash comes while the write is on its way: its own disk may or may not have it
      await c.scheduler.run(c.scheduler.now + random.float() * 25);
      crashesMidWrite++;
      c.crash(coordinator);
    }
    if ((await c.scheduler.drive(put))?.type === 'putReply') acked++;
    look();
    c.crash(coordinator);
    await c.scheduler.drive(c.start(coordinator));
  }
  await c.scheduler.run(c.scheduler.now + 3000);
  // the last word: a read-modify-write over a full read
  const read = await ask(reader, coordinator, { type: 'get', key, r: 3, pr: 0 });
  assert.equal(read?.type, 'getReply');
  const put = await ask(reader, coordinator, {
    type: 'put',
    key,
    value: Buffer.from('last'),
    deleted: false,
    context: contextOf(read!.type === 'getReply' ? read!.set : []),
    w: 3,
    pw: 0,
  });
  assert.equal(put?.type, 'putReply', JSON.stringify(put));
  const after = await ask(reader, primaries[2]!, { type: 'get', key, r: 3, pr: 0 });
  assert.ok(after?.type === 'getReply', JSON.stringify(after));
  assert.deepEqual(after.set.map((v) => Buffer.from(v.value).toString()), ['last'], 'one version remains');
  look();
  process.stdout.write(
    `# ${ROUNDS} crash-restarts (${crashesMidWrite} with a write in flight), ${acked} writes acknowledged; at most ${maxActors} actors and ${maxSiblings} siblings on the key\n`,
  );
  assert.ok(maxActors <= view.n + 1, `${maxActors} actors`);
  assert.ok(maxSiblings <= 4, `${maxSiblings} siblings`);
});
