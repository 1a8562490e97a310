// Advertised leases: a replica refuses a counter of another node's actor above the lease that
// node advertised plus one block. Every set of a real run passes, with leases heard late (up to
// one extension behind), across restarts and new epochs; a forged counter above the bound fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { actorNodeEpoch, HeardLeases, LEASE_BLOCK } from '../../storage/core/leases.ts';
import { checkSet, setProblem, type SetLimits } from '../../storage/core/set-check.ts';
import { applyWrite, bound, contextOf, merge, type SiblingSet, type Version } from '../../client/src/core/siblings.ts';
import { EMPTY_VV } from '../../client/src/core/version-vector.ts';
import { StoreError } from '../../client/src/core/errors.ts';

type Step =
  | { kind: 'write'; at: number; readFrom: number[]; blind: boolean }
  | { kind: 'sync'; from: number; to: number }
  | { kind: 'hear'; node: number }
  | { kind: 'land'; at: number; fails: boolean }
  | { kind: 'restart'; at: number }
  | { kind: 'renew'; at: number };

const REPLICAS = 3;
const n = fc.nat(REPLICAS - 1);
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      at: n,
      readFrom: fc.uniqueArray(n, { maxLength: REPLICAS }),
      blind: fc.boolean(),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('sync' as const), from: n, to: n }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('hear' as const), node: n }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('land' as const), at: n, fails: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const), at: n }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('renew' as const), at: n }) },
);
const runs = fc.record({ steps: fc.array(step, { minLength: 1, maxLength: 80 }), block: fc.integer({ min: 2, max: 5 }) });
const limits: SetLimits = { maxSiblings: 10_000, maxActors: 8 };

/** One node's counters as identity.ts keeps them: leased in blocks, the next lease written from half-way through. */
interface Counters {
  epoch: number;
  counter: number;
  lease: number;
  /** the lease being written, if any: counters go on up to the durable lease meanwhile */
  writing: number | null;
}

/**
 * Replays a run of three nodes writing and syncing, and a fourth node (the receiver) hearing
 * their leases now and then. A node is heard at least once per block it uses (the bound's
 * assumption: on an extension the receiver has heard at least the lease before it). Calls
 * `each` with every replica's set after every step.
 */
function replay(
  steps: readonly Step[],
  block: number,
  heard: HeardLeases,
  each: (set: SiblingSet) => void,
): { sets: SiblingSet[]; nodes: Counters[] } {
  const sets: SiblingSet[] = Array.from({ length: REPLICAS }, () => []);
  const nodes: Counters[] = Array.from({ length: REPLICAS }, () => ({ epoch: 0, counter: 0, lease: block, writing: null }));
  const actor = (i: number) => `n${i}@e${nodes[i]!.epoch}`;
  /** a lease write lands: by then the receiver has heard the lease before it, if it heard the epoch at all */
  const land = (i: number) => {
    const c = nodes[i]!;
    if (c.writing === null) return;
    if (heard.lease(`n${i}`, `e${c.epoch}`) !== undefined) heard.heard(`n${i}`, `e${c.epoch}`, c.lease);
    c.lease = Math.max(c.lease, c.writing);
    c.writing = null;
  };
  let epochs = 0;
  for (const s of steps) {
    if (s.kind === 'write') {
      const c = nodes[s.at]!;
      if (c.counter + 1 > c.lease) {
        c.writing ??= c.counter + block; // no durable lease covers it: refused, and a lease is written
        continue;
      }
      c.counter++;
      if (c.counter > c.lease - block / 2) c.writing ??= c.counter + block;
      let read: SiblingSet = [];
      for (const r of s.readFrom) read = merge(read, sets[r]!, limits.maxActors);
      const v: Version = {
        dot: { actor: actor(s.at), counter: c.counter },
        past: s.blind ? EMPTY_VV : contextOf(read),
        deleted: false,
        writtenAt: 0,
        value: new Uint8Array([c.counter & 0xff]),
      };
      sets[s.at] = bound(
        applyWrite(sets[s.at]!, v),
        limits.maxActors,
        sets[s.at]!.map((x) => x.dot.actor),
      );
    } else if (s.kind === 'sync') {
      sets[s.to] = merge(sets[s.to]!, sets[s.from]!, limits.maxActors);
    } else if (s.kind === 'hear') {
      const c = nodes[s.node]!;
      heard.heard(`n${s.node}`, `e${c.epoch}`, c.lease);
    } else if (s.kind === 'land') {
      // a failed lease write changes nothing; the next counter asks again
      if (s.fails) nodes[s.at]!.writing = null;
      else land(s.at);
    } else if (s.kind === 'restart') {
      // a new run resumes above its last durable lease, and leases a block beyond it before its first dot
      const c = nodes[s.at]!;
      c.writing = null;
      c.counter = c.lease;
      c.writing = c.counter + block;
      land(s.at);
    } else {
      // a new epoch (a restored directory, or by hand): counters go on from the node's own
      nodes[s.at]!.epoch = ++epochs;
    }
    sets.forEach(each);
  }
  return { sets, nodes };
}

test('every set of a real run passes the check against the leases heard, late by up to one block', () => {
  let checked = 0;
  let judged = 0;
  fc.assert(
    fc.property(runs, ({ steps, block }) => {
      const heard = new HeardLeases(block);
      replay(steps, block, heard, (set) => {
        assert.equal(setProblem(set, limits, undefined, (a) => heard.limit(a)), null, JSON.stringify(set.map((v) => [v.dot, [...v.past]])));
        checked++;
        if (set.some((v) => heard.limit(v.dot.actor) !== undefined)) judged++;
      });
    }),
    { numRuns: 500 },
  );
  assert.ok(checked > 1000 && judged > 500, `${checked} sets checked, ${judged} against a heard lease`);
});

test('a dot or past entry above a heard lease plus one block fails the check, as BAD_REQUEST', () => {
  fc.assert(
    fc.property(runs, fc.nat(), fc.integer({ min: 1, max: 2 ** 40 }), fc.boolean(), ({ steps, block }, pick, above, inPast) => {
      const heard = new HeardLeases(block);
      const { sets, nodes } = replay(steps, block, heard, () => {});
      const i = pick % REPLICAS;
      const c = nodes[i]!;
      heard.heard(`n${i}`, `e${c.epoch}`, c.lease);
      const victim = `n${i}@e${c.epoch}${pick % 2 === 0 ? '' : '.3'}`;
      const limit = heard.limit(victim)!;
      assert.equal(limit, c.lease + block);
      const forged: Version = inPast
        ? {
            dot: { actor: 'forger@x', counter: 1 },
            past: new Map([[victim, limit + above]]),
            deleted: false,
            writtenAt: 0,
            value: new Uint8Array(),
          }
        : { dot: { actor: victim, counter: limit + above }, past: EMPTY_VV, deleted: false, writtenAt: 0, value: new Uint8Array() };
      const alone = [forged];
      assert.equal(setProblem(alone, limits), null, 'well-formed but for the counter');
      assert.match(
        setProblem(alone, limits, undefined, (a) => heard.limit(a)) ?? '',
        new RegExp(`names dot ${victim.replace('.', '\\.')}:${limit + above}, above the counters its node has leased`),
      );
      // beside a real replica's set it fails too, whichever problem is named first
      const beside = merge(sets[pick % REPLICAS]!, alone, limits.maxActors);
      if (beside.some((v) => v === forged || v.past.get(victim) === limit + above))
        assert.notEqual(
          setProblem(beside, limits, undefined, (a) => heard.limit(a)),
          null,
        );
      assert.throws(
        () => checkSet(alone, limits, undefined, (a) => heard.limit(a)),
        (e: unknown) => e instanceof StoreError && e.code === 'BAD_REQUEST',
      );
    }),
    { numRuns: 300 },
  );
});

test('actors with no lease heard and epochs left pass; the highest lease heard per node and epoch is kept, never lowered', () => {
  const heard = new HeardLeases();
  const v = (actor: string, counter: number): Version => ({
    dot: { actor, counter },
    past: EMPTY_VV,
    deleted: false,
    writtenAt: 0,
    value: new Uint8Array(),
  });
  const check = (set: Version[]) => setProblem(set, limits, undefined, (a) => heard.limit(a));
  assert.equal(check([v('n1@e1', 2 ** 40)]), null, 'nothing heard of n1');
  heard.heard('n1', 'e1', 300_000);
  heard.heard('n1', 'e1', 200_000);
  assert.equal(heard.lease('n1', 'e1'), 300_000, 'a late heartbeat does not lower the lease');
  assert.equal(check([v('n1@e1', 300_000 + LEASE_BLOCK)]), null, 'one block above the lease passes');
  assert.match(check([v('n1@e1', 300_001 + LEASE_BLOCK)]) ?? '', /above the counters its node has leased and advertised \(up to 400000/);
  assert.match(check([v('n1@e1.4', 300_001 + LEASE_BLOCK)]) ?? '', /n1@e1\.4/, 'every incarnation shares the node\'s counters');
  assert.equal(check([v('n1@e2', 2 ** 40)]), null, 'another epoch of n1: nothing heard');
  heard.heard('n1', 'e2', 100_000);
  assert.equal(check([v('n1@e1', 2 ** 40)]), null, 'an epoch n1 has left is no longer judged');
  assert.match(check([v('n1@e2', 200_001)]) ?? '', /n1@e2:200001/);
  assert.equal(heard.lease('n1', 'e1'), 300_000, 'its lease is kept');
  assert.equal(check([v('n2@e1', 2 ** 40)]), null, 'another node');
  // the receiver's own actors are judged by its own counter, not by leases
  const own = { owns: (a: string) => a === 'n1@e1', counter: 10 ** 9 };
  assert.equal(setProblem([v('n1@e1', 10 ** 9)], limits, own, (a) => heard.limit(a)), null);
});

test('actors are split into node and epoch; shapes that are not an actor name none', () => {
  assert.deepEqual(actorNodeEpoch('n1@abc'), { node: 'n1', epoch: 'abc' });
  assert.deepEqual(actorNodeEpoch('n1@abc.12'), { node: 'n1', epoch: 'abc' });
  assert.deepEqual(actorNodeEpoch('a@b@abc'), { node: 'a@b', epoch: 'abc' });
  for (const bad of ['n1', '@abc', 'n1@', 'n1@abc.x', 'n1@.3', 'n1@abc.']) assert.equal(actorNodeEpoch(bad), null, bad);
});
