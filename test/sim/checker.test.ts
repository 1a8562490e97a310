// The checker, on hand-made histories: it finds a lost write, an overwritten version back and a
// forged claim, and it excuses a write only when a client read it, never because a version's
// metadata says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { History, check, type FinalState } from './checker.ts';
import { contextOf, type SiblingSet, type Version } from '../../client/src/core/siblings.ts';
import type { Dot, VersionVector } from '../../client/src/core/version-vector.ts';

const KEY = 'k';
const dot = (actor: string, counter: number): Dot => ({ actor, counter });
const version = (id: string, d: Dot, past: [string, number][] = [], deleted = false): Version => ({
  dot: d,
  past: new Map(past),
  deleted,
  writtenAt: 0,
  value: deleted ? new Uint8Array() : Buffer.from(JSON.stringify({ id })),
});
const finalOf = (set: SiblingSet): FinalState => ({ reads: new Map([[KEY, set]]) });

/** An acknowledged write, as a client saw it. */
function write(h: History, id: string, d: Dot, readId: string | null = null, context: VersionVector | null = null, deleted = false): void {
  const w = h.attempt(id, KEY, deleted, readId, context);
  w.outcome = 'ok';
  w.dot = d;
}

test('a write nobody read and that is gone is lost', () => {
  const h = new History();
  write(h, 'w1', dot('a', 1));
  write(h, 'w2', dot('b', 1));
  const v = check(h, finalOf([version('w2', dot('b', 1))]));
  assert.equal(v.lost, 1);
  assert.match(v.violations.join('\n'), /w1/);
});

test('a write is excused when a later acknowledged write carried the context of a read that returned it', () => {
  const h = new History();
  const v1 = version('w1', dot('a', 1));
  write(h, 'w1', v1.dot);
  const r = h.read(KEY, [v1]);
  write(h, 'w2', dot('b', 1), r.id, contextOf([v1]));
  const v = check(h, finalOf([version('w2', dot('b', 1), [['a', 1]])]));
  assert.deepEqual(v.violations, []);
  assert.equal(v.lost, 0);
});

test('a version whose past claims a write its writer never read does not excuse that write: the claim is reported and the write counted lost', () => {
  const h = new History();
  write(h, 'w1', dot('a', 1));
  // w2 is blind, yet the stored version claims w1's dot in its past (forged or buggy metadata)
  write(h, 'w2', dot('b', 1));
  const forged = version('w2', dot('b', 1), [['a', 1]]);
  const r = h.read(KEY, [forged]);
  const v = check(h, finalOf([forged]));
  assert.equal(v.lost, 1, 'the metadata does not excuse w1');
  assert.ok(v.violations.some((x) => x.includes(`read ${r.id} claims a:1 (w1)`)), v.violations.join('\n'));
});

test('an overwritten version that comes back is reported', () => {
  const h = new History();
  const v1 = version('w1', dot('a', 1));
  write(h, 'w1', v1.dot);
  const r = h.read(KEY, [v1]);
  write(h, 'w2', dot('b', 1), r.id, contextOf([v1]));
  const v = check(h, finalOf([v1, version('w2', dot('b', 1), [['a', 1]])]));
  assert.equal(v.returned, 1);
  assert.match(v.violations.join('\n'), /w1 is in the final state although w2/);
});

test('against real processes: the tombstone of a delete that timed out but was applied is known by its key and past; a tombstone matching no delete excuses nothing', () => {
  const h = new History();
  const v1 = version('w1', dot('a', 1));
  write(h, 'w1', v1.dot);
  const r = h.read(KEY, [v1]);
  const del = h.attempt('d1', KEY, true, r.id, contextOf([v1]));
  del.outcome = 'failed';
  const applied = check(h, finalOf([version('d1', dot('c', 1), [['a', 1]], true)]));
  assert.deepEqual(applied.violations, []);
  assert.equal(applied.lost, 0, 'the delete that was applied read w1');
  const stranger = check(h, finalOf([version('?', dot('c', 1), [['a', 1], ['z', 9]], true)]));
  assert.equal(stranger.lost, 1, 'a tombstone no delete accounts for excuses nothing');
});

test('against real processes: a timed-out delete whose tombstone only a read without pasts showed is known by elimination, and only when one delete of the key is unaccounted for', () => {
  // a GraphQL read shows dots, not pasts; the tombstone was superseded before the final read
  const run = (failedDeletes: number) => {
    const h = new History();
    const v1 = version('w1', dot('a', 1));
    write(h, 'w1', v1.dot);
    const r1 = h.read(KEY, [v1]);
    for (let i = 0; i < failedDeletes; i++) h.attempt(`d${i}`, KEY, true, r1.id, contextOf([v1])).outcome = 'failed';
    const r2 = h.read(KEY, [version('?', dot('a', 3), [], true)]);
    write(h, 'w2', dot('b', 1), r2.id, new Map([['a', 3]]));
    return check(h, finalOf([version('w2', dot('b', 1), [['a', 3]])]));
  };
  const one = run(1);
  assert.deepEqual(one.violations, []);
  assert.equal(one.lost, 0, 'the delete that was applied read w1');
  const two = run(2);
  assert.equal(two.lost, 1, 'with two deletes unaccounted for, the tombstone stays unknown and excuses nothing');
  assert.ok(two.violations.some((x) => x.includes('claims a:1 (w1)')), two.violations.join('\n'));
});
