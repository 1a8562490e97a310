// The condition of a conditional put, as a pure function of what the coordinator holds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { conditionalContext, conditionFailure } from '../../client/src/core/condition.ts';
import { applyWrite, contextOf, type SiblingSet, type Version } from '../../client/src/core/siblings.ts';
import { EMPTY_VV, type VersionVector } from '../../client/src/core/version-vector.ts';

const v = (actor: string, counter: number, past: VersionVector = EMPTY_VV, deleted = false): Version => ({
  dot: { actor, counter },
  past,
  deleted,
  writtenAt: 0,
  value: deleted ? new Uint8Array(0) : new Uint8Array([counter]),
});

test('current: passes when the context covers every version held, tombstones included', () => {
  const a1 = v('a', 1);
  const b1 = v('b', 1);
  const held: SiblingSet = [a1, b1];
  assert.equal(conditionFailure('current', contextOf(held), held), null);
  assert.equal(conditionFailure('current', null, []), null, 'nothing held, nothing to cover');
  assert.equal(conditionFailure('current', EMPTY_VV, []), null);
  assert.match(conditionFailure('current', contextOf([a1]), held)!, /holds a version the context does not cover \(b:1\)/);
  assert.match(conditionFailure('current', null, held)!, /2 versions the context does not cover \(a:1, b:1\)/);
  const tomb = v('b', 2, new Map([['b', 1]]), true);
  assert.match(conditionFailure('current', contextOf([a1, b1]), [a1, tomb])!, /b:2 deleted/, 'a delete the writer has not seen is a conflict');
  // a context that names the dot but not what the version was written over does not cover it
  const over = v('a', 2, new Map([['b', 5]]));
  assert.notEqual(conditionFailure('current', new Map([['a', 2]]), [over]), null);
  assert.equal(conditionFailure('current', new Map([['a', 2], ['b', 5]]), [over]), null);
});

test('current: a write that passes replaces every version held, so the key has one version after it', () => {
  const held: SiblingSet = [v('a', 1), v('b', 1), v('c', 1, EMPTY_VV, true)];
  const ctx = contextOf(held);
  assert.equal(conditionFailure('current', ctx, held), null);
  assert.deepEqual(applyWrite(held, v('a', 2, ctx)).map((x) => x.dot), [{ actor: 'a', counter: 2 }]);
});

test('absent: fails on a live version only; over tombstones it writes their context too', () => {
  assert.equal(conditionFailure('absent', null, []), null);
  const tomb = v('a', 3, new Map([['a', 2]]), true);
  assert.equal(conditionFailure('absent', null, [tomb]), null);
  assert.match(conditionFailure('absent', null, [tomb, v('b', 1)])!, /holds a live version \(b:1\)/);
  assert.match(conditionFailure('absent', contextOf([v('b', 1)]), [v('b', 1), v('c', 4)])!, /2 live versions \(b:1, c:4\)/, 'a context does not excuse a live version');
  const ctx = conditionalContext('absent', null, [tomb])!;
  assert.deepEqual([...ctx], [['a', 3]]);
  assert.deepEqual(applyWrite([tomb], v('b', 1, ctx)).map((x) => x.dot.actor), ['b'], 'the created value is the only version');
  assert.equal(conditionalContext('absent', null, []), null);
  const given = new Map([['z', 1]]);
  assert.equal(conditionalContext('current', given, [tomb]), given, 'current writes over the context given, as any put');
});
