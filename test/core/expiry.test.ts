// Expiry (storage/core/expiry.ts): what a read shows at a time, and the delete that turns the
// expired versions into a tombstone. Properties over random histories of blind writes, writes
// over partial reads, deletes and TTLs: the delete removes only expired versions and tombstones,
// never a live one, and nothing it removed comes back when a stale copy is merged in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkTtl, expiryDelete, expiryTime, isExpired, visibleAt, MAX_TTL_SECONDS } from '../../storage/core/expiry.ts';
import { applyWrite, contextOf, merge, type SiblingSet, type Version } from '../../storage/core/siblings.ts';
import { equalVV, formatDot, EMPTY_VV } from '../../storage/core/version-vector.ts';

const ACTORS = ['a@1', 'b@1', 'c@1'];

interface WriteStep {
  readonly actor: number;
  /** which of the current versions the writer had read (its context), by index modulo the set */
  readonly read: readonly number[];
  readonly deleted: boolean;
  /** ms after writtenAt, or null for no TTL */
  readonly ttlMs: number | null;
}

const writeStep: fc.Arbitrary<WriteStep> = fc.record({
  actor: fc.nat(ACTORS.length - 1),
  read: fc.array(fc.nat(7), { maxLength: 3 }),
  deleted: fc.integer({ min: 0, max: 9 }).map((n) => n < 2),
  ttlMs: fc.option(fc.integer({ min: 1, max: 100 }), { nil: null }),
});

/** Applies the steps at times 0, 10, 20, ... through coordinators that each hold every dot of their own. */
function build(steps: readonly WriteStep[]): SiblingSet {
  const counters = ACTORS.map(() => 0);
  let set: SiblingSet = [];
  steps.forEach((s, i) => {
    const seen = set.length === 0 ? [] : s.read.map((r) => set[r % set.length]!);
    const writtenAt = i * 10;
    const v: Version = {
      dot: { actor: ACTORS[s.actor]!, counter: ++counters[s.actor]! },
      past: contextOf(seen),
      deleted: s.deleted,
      writtenAt,
      value: s.deleted ? new Uint8Array(0) : Buffer.from(`v${i}`),
      ...(s.ttlMs !== null && !s.deleted ? { expiresAt: writtenAt + s.ttlMs } : {}),
    };
    set = applyWrite(set, v);
  });
  return set;
}

const history = fc.array(writeStep, { minLength: 1, maxLength: 12 });
const dots = (set: SiblingSet) => set.map((v) => formatDot(v.dot));

test('the expiry delete removes expired versions and tombstones only, never a live one, and a stale copy does not bring them back', () => {
  fc.assert(
    fc.property(history, fc.integer({ min: 0, max: 250 }), (steps, now) => {
      const set = build(steps);
      const plan = expiryDelete(set, now);
      if (!plan) {
        // nothing to delete: no expired version, or each one's history would cover a live one
        for (const v of set) if (isExpired(v, now)) assert.ok(set.some((l) => !l.deleted && !isExpired(l, now) && l.dot.actor === v.dot.actor));
        return;
      }
      for (const v of plan.expired) assert.ok(isExpired(v, now));
      const tombstone: Version = { dot: { actor: 'z@1', counter: 1 }, past: plan.context, deleted: true, writtenAt: now, value: new Uint8Array(0) };
      const after = applyWrite(set, tombstone);
      for (const v of set) {
        const kept = after.some((x) => formatDot(x.dot) === formatDot(v.dot));
        if (!v.deleted && !isExpired(v, now)) assert.ok(kept, `live ${formatDot(v.dot)} was removed: ${dots(set)} -> ${dots(after)}`);
        if (plan.expired.includes(v)) assert.ok(!kept, `expired ${formatDot(v.dot)} is still there`);
      }
      // a replica that still holds the old set, merged either way round (anti-entropy, read repair)
      for (const merged of [merge(after, set), merge(set, after)]) {
        for (const v of plan.expired) assert.ok(!merged.some((x) => formatDot(x.dot) === formatDot(v.dot)), `${formatDot(v.dot)} came back`);
      }
    }),
    { numRuns: 2000 },
  );
});

test('a read at a time shows exactly the expired versions as deleted, with the same context', () => {
  fc.assert(
    fc.property(history, fc.integer({ min: 0, max: 250 }), (steps, now) => {
      const set = build(steps);
      const shown = visibleAt(set, now);
      assert.equal(shown.length, set.length);
      assert.ok(equalVV(contextOf(shown), contextOf(set)));
      shown.forEach((v, i) => {
        const was = set[i]!;
        assert.equal(formatDot(v.dot), formatDot(was.dot));
        assert.equal(v.deleted, was.deleted || isExpired(was, now));
        if (v.deleted) assert.equal(v.value.byteLength, 0);
        else assert.deepEqual(v.value, was.value);
      });
    }),
  );
});

test('an expired blind write beside a later-counted live one of the same actor is deleted', () => {
  const old: Version = { dot: { actor: 'a@1', counter: 1 }, past: EMPTY_VV, deleted: false, writtenAt: 0, value: Buffer.from('x'), expiresAt: 5 };
  const live: Version = { dot: { actor: 'a@1', counter: 2 }, past: EMPTY_VV, deleted: false, writtenAt: 1, value: Buffer.from('y') };
  const set = applyWrite(applyWrite([], old), live);
  const plan = expiryDelete(set, 10)!;
  assert.deepEqual(plan.expired.map((v) => formatDot(v.dot)), ['a@1:1']);
  const after = applyWrite(set, { dot: { actor: 'b@1', counter: 1 }, past: plan.context, deleted: true, writtenAt: 10, value: new Uint8Array(0) });
  assert.deepEqual(dots(after.filter((v) => !v.deleted)), ['a@1:2']);
});

test('an expired write whose counter claims a live earlier sibling of its actor waits: it reads as deleted, and nothing live is deleted', () => {
  const live: Version = { dot: { actor: 'a@1', counter: 1 }, past: EMPTY_VV, deleted: false, writtenAt: 0, value: Buffer.from('x') };
  const expiring: Version = { dot: { actor: 'a@1', counter: 2 }, past: EMPTY_VV, deleted: false, writtenAt: 1, value: Buffer.from('y'), expiresAt: 5 };
  const set = applyWrite(applyWrite([], live), expiring);
  assert.equal(set.length, 2);
  assert.equal(expiryDelete(set, 10), null);
  assert.deepEqual(visibleAt(set, 10).map((v) => v.deleted), [false, true]);
  assert.equal(visibleAt(set, 4), set, 'before its time, nothing changes');
});

test('ttlSeconds is a whole number of seconds from 1 to the documented maximum', () => {
  for (const ok of [1, 60, MAX_TTL_SECONDS]) assert.doesNotThrow(() => checkTtl(ok));
  for (const bad of [0, -1, 1.5, MAX_TTL_SECONDS + 1, Number.NaN, Infinity, '5', null]) {
    assert.throws(() => checkTtl(bad), (e: Error & { code?: string }) => e.code === 'BAD_REQUEST' && /ttlSeconds must be a whole number of seconds from 1 to 315360000/.test(e.message));
  }
  assert.equal(expiryTime(1000, 3), 4000);
});
