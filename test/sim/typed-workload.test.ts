// Typed keys under the fault profile: clients increment counters and add and remove set
// members through random nodes while the nemesis crashes, isolates and splits nodes, drops
// and delays messages, fails disk transactions and changes the ring, with repair running.
// Judged only from what the clients were told: every acknowledged increment counts (and no
// increment counts twice), every acknowledged add of a member no one removed is there, no
// member appears that no one added, and after repair every primary holds the same bytes.
// Disk loss stays off: a wiped disk loses what only it held, typed or not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clusterFor } from './simulate.ts';
import { Nemesis } from './nemesis.ts';
import { draw } from './swarm.ts';
import { finalState, newExercised, repairRound, settle } from './workload.ts';
import { StoreError } from '../../client/src/core/errors.ts';
import { decodeTyped } from '../../client/src/core/crdt/codec.ts';
import { counterValue } from '../../client/src/core/crdt/counter.ts';
import { members } from '../../client/src/core/crdt/orswot.ts';
import { joinSiblings, type TypedOp } from '../../client/src/core/crdt/typed.ts';
import { encodeSet } from '../../client/src/protocol/codec.ts';

const COUNTERS = ['c0', 'c1'];
const SETS = ['s0', 's1'];
const CLIENTS = 5;
const OPS = 40;

interface Tally {
  acked: number;
  failed: number;
}

async function run(seed: number) {
  const drawn = draw(seed);
  const p = { ...drawn, faults: { ...drawn.faults, diskLoss: 'none' as const } };
  const cluster = await clusterFor(seed, p);
  const random = cluster.random.fork(4242);
  const counts = new Map(COUNTERS.map((k) => [k, { acked: 0, failed: 0 } as Tally]));
  const added = new Map(SETS.map((k) => [k, new Set<string>()]));
  const addedAcked = new Map(SETS.map((k) => [k, new Set<string>()]));
  const removed = new Map(SETS.map((k) => [k, new Set<string>()]));
  let finished = 0;
  let ops = 0;

  const client = async (c: number) => {
    const r = random.fork(c);
    const transport = cluster.client(`typed${c}`);
    const send = async (key: string, op: TypedOp) => {
      try {
        return await transport.request(
          r.pick(cluster.ids),
          { type: 'put', key, value: new Uint8Array(0), deleted: false, context: null, w: r.pick([0, 2, 3]), pw: 0, op },
          2000,
        );
      } catch (e) {
        if (e instanceof StoreError) return null;
        throw e;
      }
    };
    for (let i = 0; i < OPS; i++) {
      if (r.float() < 0.5) {
        const key = r.pick(COUNTERS);
        const by = 1 + r.int(5);
        const reply = await send(key, { type: 'counter', by });
        const tally = counts.get(key)!;
        if (reply?.type === 'opReply') tally.acked += by;
        else tally.failed += by;
      } else {
        const key = r.pick(SETS);
        let op: TypedOp;
        const known = [...added.get(key)!];
        if (known.length > 0 && r.float() < 0.3) {
          const member = r.pick(known);
          removed.get(key)!.add(member);
          op = { type: 'set', add: [], remove: [member] };
        } else {
          const member = JSON.stringify(`typed${c}-${i}`);
          added.get(key)!.add(member);
          op = { type: 'set', add: [member], remove: [] };
        }
        const reply = await send(key, op);
        if (reply?.type === 'opReply') {
          for (const m of op.add) addedAcked.get(key)!.add(m);
          const state = decodeTyped(reply.state);
          assert.ok(state?.type === 'set', 'a set operation is answered with a set');
        }
      }
      ops++;
      await new Promise<void>((resolve) => cluster.scheduler.at(r.float() * p.workload.thinkMs, resolve));
    }
  };
  for (let c = 0; c < CLIENTS; c++) void client(c).finally(() => finished++);
  const done = () => finished === CLIENTS;
  const nemesis = new Nemesis(cluster, random.fork(999), p.faults);
  if (p.faults.everyMs > 0) {
    const act = () => {
      if (done()) return;
      nemesis.act();
      cluster.scheduler.at(p.faults.everyMs, act);
    };
    cluster.scheduler.at(p.faults.everyMs, act);
  }
  if (p.faults.repairEveryMs > 0) {
    const repair = cluster.repairer(p.faults.reclaimGraceMs);
    const round = () => {
      if (done()) return;
      void repairRound(cluster, repair, false)
        .catch(() => undefined)
        .finally(() => cluster.scheduler.at(p.faults.repairEveryMs, round));
    };
    cluster.scheduler.at(p.faults.repairEveryMs, round);
  }
  await cluster.scheduler.runUntil(done, 3_600_000, 'the typed clients to finish');
  await settle(cluster, nemesis, p.faults.reclaimGraceMs, newExercised());
  const final = await finalState(cluster, [...COUNTERS, ...SETS]);
  return { counts, added, addedAcked, removed, final, ops, faults: nemesis.log };
}

for (const seed of [3, 11, 29, 41, 57, 63, 78, 85, 92, 100]) {
  test(`typed keys under the fault profile of seed ${seed}: no acknowledged increment or add is lost, and replicas converge to the same bytes`, async () => {
    const { counts, added, addedAcked, removed, final, ops, faults } = await run(seed);
    const where = `seed ${seed} (replay: node --import tsx --test --test-name-pattern="seed ${seed}:" test/sim/typed-workload.test.ts); faults: ${faults.slice(0, 12).join(', ')}`;
    for (const [key, tally] of counts) {
      const t = joinSiblings(key, final.reads.get(key)!, 'counter');
      const value = t?.type === 'counter' ? counterValue(t.state) : 0;
      assert.ok(
        value >= tally.acked && value <= tally.acked + tally.failed,
        `${key}: counted ${value}, acknowledged ${tally.acked}, failed ${tally.failed}; ${where}`,
      );
      process.stdout.write(
        `# seed ${seed} ${key}: ${tally.acked} acknowledged, ${tally.failed} failed, counted ${value} (${ops} operations, ${faults.length} faults)\n`,
      );
    }
    for (const key of SETS) {
      const t = joinSiblings(key, final.reads.get(key)!, 'set');
      const present = new Set(t?.type === 'set' ? members(t.state) : []);
      for (const m of addedAcked.get(key)!)
        if (!removed.get(key)!.has(m))
          assert.ok(present.has(m), `${key}: ${m} was added (acknowledged) and never removed, but is missing; ${where}`);
      for (const m of present) assert.ok(added.get(key)!.has(m), `${key}: ${m} was never added; ${where}`);
    }
    for (const [key, byPrimary] of final.primaries!) {
      const bytes = new Set([...byPrimary.values()].map((set) => Buffer.from(encodeSet(set)).toString('hex')));
      assert.equal(bytes.size, 1, `${key}: the primaries hold different sets after repair; ${where}`);
    }
  });
}
