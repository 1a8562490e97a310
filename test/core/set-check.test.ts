// The check a replica makes of a received sibling set: every set replicas make passes it, and a
// set with a duplicated dot, a superseded member, too many siblings or actors, or a forged
// counter of the receiver's own actor fails it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { setProblem, checkSet, type SetLimits } from '../../storage/core/set-check.ts';
import { applyWrite, bound, contextOf, history, merge, type SiblingSet, type Version } from '../../client/src/core/siblings.ts';
import { compareDots, EMPTY_VV } from '../../client/src/core/version-vector.ts';
import { StoreError } from '../../client/src/core/errors.ts';

type Step =
  | { kind: 'write'; at: number; readFrom: number[]; blind: boolean; deleted: boolean }
  | { kind: 'sync'; from: number; to: number }
  | { kind: 'renew'; at: number };

const REPLICAS = 3;
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      at: fc.nat(REPLICAS - 1),
      readFrom: fc.uniqueArray(fc.nat(REPLICAS - 1), { maxLength: REPLICAS }),
      blind: fc.boolean(),
      deleted: fc.boolean(),
    }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('sync' as const), from: fc.nat(REPLICAS - 1), to: fc.nat(REPLICAS - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('renew' as const), at: fc.nat(REPLICAS - 1) }) },
);
const runs = fc.record({ steps: fc.array(step, { minLength: 1, maxLength: 60 }), maxActors: fc.integer({ min: 2, max: 6 }) });

/** Replays a run the way coordinators and replicas do (applyWrite then bound, merge), calling `each` with every replica's set after every step. */
function replay(steps: readonly Step[], maxActors: number, each: (set: SiblingSet) => void): SiblingSet[] {
  const sets: SiblingSet[] = Array.from({ length: REPLICAS }, () => []);
  const actors = Array.from({ length: REPLICAS }, (_, i) => `n${i}@e0`);
  let counter = 0;
  let epoch = 0;
  for (const s of steps) {
    if (s.kind === 'write') {
      let read: SiblingSet = [];
      for (const r of s.readFrom) read = merge(read, sets[r]!, maxActors);
      const v: Version = {
        dot: { actor: actors[s.at]!, counter: ++counter },
        past: s.blind ? EMPTY_VV : contextOf(read),
        deleted: s.deleted,
        writtenAt: 0,
        value: new Uint8Array([counter & 0xff]),
      };
      sets[s.at] = bound(applyWrite(sets[s.at]!, v), maxActors, sets[s.at]!.map((x) => x.dot.actor));
    } else if (s.kind === 'sync') {
      sets[s.to] = merge(sets[s.to]!, sets[s.from]!, maxActors);
    } else {
      actors[s.at] = `n${s.at}@e${++epoch}`;
    }
    sets.forEach(each);
  }
  return sets;
}

const limits = (maxActors: number): SetLimits => ({ maxSiblings: 10_000, maxActors });
const sorted = (set: Version[]): Version[] => set.sort((a, b) => compareDots(a.dot, b.dot));

test('every set applyWrite, bound and merge make passes the check', () => {
  let checked = 0;
  fc.assert(
    fc.property(runs, ({ steps, maxActors }) => {
      replay(steps, maxActors, (set) => {
        assert.equal(setProblem(set, limits(maxActors)), null, JSON.stringify(set.map((v) => [v.dot, [...v.past]])));
        checked++;
      });
    }),
    { numRuns: 400 },
  );
  assert.ok(checked > 1000);
});

test('a set with a duplicated dot fails the check, whatever the copy\'s past', () => {
  fc.assert(
    fc.property(runs, fc.nat(), fc.boolean(), ({ steps, maxActors }, pick, samePast) => {
      const set = replay(steps, maxActors, () => {}).find((s) => s.length > 0);
      if (!set) return;
      const v = set[pick % set.length]!;
      const copy: Version = samePast ? { ...v } : { ...v, past: EMPTY_VV };
      const forged = sorted([...set, copy]);
      assert.match(setProblem(forged, limits(maxActors)) ?? '', /appears twice/);
    }),
    { numRuns: 300 },
  );
});

test('a set with a member that supersedes another fails the check', () => {
  fc.assert(
    fc.property(runs, fc.nat(), ({ steps, maxActors }, pick) => {
      const set = replay(steps, maxActors, () => {}).find((s) => s.length > 0);
      if (!set) return;
      const over = set[pick % set.length]!;
      // a version written over `over` (its whole history), yet sent beside it
      const newer: Version = {
        dot: { actor: 'forger@x', counter: 1 },
        past: history(over),
        deleted: false,
        writtenAt: 0,
        value: new Uint8Array(),
      };
      const forged = sorted([...set, newer]);
      assert.match(setProblem(forged, { maxSiblings: 10_000, maxActors: 1000 }) ?? '', /supersedes its sibling/);
    }),
    { numRuns: 300 },
  );
});

/** A version with an empty value, for the limit checks. */
const v = (actor: string, counter: number, past: [string, number][] = []): Version => ({
  dot: { actor, counter },
  past: new Map(past),
  deleted: false,
  writtenAt: 0,
  value: new Uint8Array(),
});

test('too many siblings, too many actors, unsorted siblings and oversized values fail; checkSet throws BAD_REQUEST', () => {
  const three = [v('a', 1), v('b', 1), v('c', 1)];
  assert.equal(setProblem(three, { maxSiblings: 3, maxActors: 3 }), null);
  assert.match(setProblem(three, { maxSiblings: 2, maxActors: 3 }) ?? '', /3 siblings, more than the 2/);
  // actors named only in pasts count against the bound; the siblings' own actors always fit
  assert.equal(setProblem(three, { maxSiblings: 3, maxActors: 1 }), null);
  const wide = [v('a', 1, [['x', 1], ['y', 1], ['z', 1]])];
  assert.match(setProblem(wide, { maxSiblings: 3, maxActors: 3 }) ?? '', /names 4 actors/);
  assert.match(setProblem([v('b', 1), v('a', 1)], limits(8)) ?? '', /not sorted by dot/);
  assert.match(setProblem([{ ...v('a', 1), value: new Uint8Array(1024 * 1024 + 1) }], limits(8)) ?? '', /1048577-byte value/);
  assert.throws(
    () => checkSet([v('a', 1), v('a', 1)], limits(8)),
    (e: unknown) => e instanceof StoreError && e.code === 'BAD_REQUEST' && /refused a sibling set: dot a:1 appears twice/.test(e.message),
  );
});

test('a dot or past entry of the receiver\'s own actor above the counters it handed out fails; other actors\' counters are not judged', () => {
  const own = { owns: (a: string) => a === 'me@e1' || a === 'me@e1.2', counter: 50 };
  assert.equal(setProblem([v('me@e1', 50)], limits(8), own), null);
  assert.match(setProblem([v('me@e1', 51)], limits(8), own) ?? '', /dot me@e1:51 of this node, which has handed out counters up to 50/);
  assert.match(setProblem([v('other@e', 3, [['me@e1.2', 1_000_000]])], limits(8), own) ?? '', /me@e1\.2:1000000/);
  assert.equal(
    setProblem([v('me@e0', 1_000_000), v('other@e', 1_000_000)], limits(8), own),
    null,
    'an earlier epoch and other nodes are not judged',
  );
});
