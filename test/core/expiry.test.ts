// Expiry (storage/core/expiry.ts): a read turns each expired version into its own tombstone,
// and merging keeps the tombstone. Properties over random histories of blind writes, writes
// over partial reads, deletes and TTLs, and over replicas that expire on skewed clocks and sync
// in any order: only expired versions change, every replica ends with the same bytes, no
// version is lost, and no expired version comes back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkTtl, expireAt, expiryTime, isExpired, MAX_TTL_SECONDS } from '../../client/src/core/expiry.ts';
import { applyWrite, contextOf, merge, sameSet, type SiblingSet, type Version } from '../../client/src/core/siblings.ts';
import { encodeSet } from '../../client/src/protocol/codec.ts';
import { equalVV, formatDot, EMPTY_VV } from '../../client/src/core/version-vector.ts';

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

test('expiring a set turns exactly the expired versions into their own tombstones, keeping dots, pasts, times and the context', () => {
  fc.assert(
    fc.property(history, fc.integer({ min: 0, max: 250 }), (steps, now) => {
      const set = build(steps);
      const out = expireAt(set, now);
      assert.deepEqual(dots(out), dots(set));
      assert.ok(equalVV(contextOf(out), contextOf(set)));
      out.forEach((v, i) => {
        const was = set[i]!;
        if (!isExpired(was, now)) {
          assert.equal(v, was, 'a version that has not expired is left as it is');
          return;
        }
        assert.deepEqual(v, { ...was, deleted: true, value: new Uint8Array(0) });
      });
      assert.equal(expireAt(out, now), out, 'expiring again changes nothing');
    }),
    { numRuns: 1000 },
  );
});

// ------------------------------------------------------------------ replicas that expire on their own clocks

type Step =
  | { kind: 'write'; at: number; read: boolean; ttlMs: number | null }
  | { kind: 'sync'; from: number; to: number }
  | { kind: 'expire'; at: number; skew: number };

const REPLICAS = 3;
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('write' as const),
    at: fc.nat(REPLICAS - 1),
    read: fc.boolean(),
    ttlMs: fc.option(fc.integer({ min: 1, max: 60 }), { nil: null }),
  }),
  fc.record({ kind: fc.constant('sync' as const), from: fc.nat(REPLICAS - 1), to: fc.nat(REPLICAS - 1) }),
  fc.record({ kind: fc.constant('expire' as const), at: fc.nat(REPLICAS - 1), skew: fc.integer({ min: -30, max: 30 }) }),
);

/** Runs the steps at times 0, 10, 20, ...; with `expiring` false, expire steps are skipped (the model). */
function play(steps: readonly Step[], expiring: boolean): { replicas: SiblingSet[]; expired: Set<string> } {
  const replicas: SiblingSet[] = Array.from({ length: REPLICAS }, () => []);
  const counters = replicas.map(() => 0);
  const expired = new Set<string>();
  steps.forEach((s, i) => {
    const t = i * 10;
    if (s.kind === 'write') {
      const set = replicas[s.at]!;
      const v: Version = {
        dot: { actor: ACTORS[s.at]!, counter: ++counters[s.at]! },
        past: s.read ? contextOf(set) : EMPTY_VV,
        deleted: false,
        writtenAt: t,
        value: Buffer.from(`v${i}`),
        ...(s.ttlMs === null ? {} : { expiresAt: t + s.ttlMs }),
      };
      replicas[s.at] = applyWrite(set, v);
    } else if (s.kind === 'sync') replicas[s.to] = merge(replicas[s.to]!, replicas[s.from]!);
    else if (expiring) {
      // a read coordinated at this replica, by its own skewed clock, and repaired back to it
      const now = t + s.skew;
      for (const v of replicas[s.at]!) if (isExpired(v, now)) expired.add(formatDot(v.dot));
      replicas[s.at] = expireAt(replicas[s.at]!, now);
    }
  });
  // anti-entropy until every replica holds what every other does
  for (let round = 0; round < 2; round++)
    for (let a = 0; a < REPLICAS; a++) for (let b = 0; b < REPLICAS; b++) replicas[a] = merge(replicas[a]!, replicas[b]!);
  return { replicas, expired };
}

test('replicas that expire on skewed clocks converge to the same bytes, lose no version, and no expired version comes back', () => {
  fc.assert(
    fc.property(fc.array(step, { minLength: 1, maxLength: 30 }), (steps) => {
      const { replicas, expired } = play(steps, true);
      const model = play(steps, false).replicas[0]!;
      const bytes = replicas.map((r) => Buffer.from(encodeSet(r)).toString('hex'));
      for (const b of bytes) assert.equal(b, bytes[0], 'the replicas hold different bytes');
      const final = replicas[0]!;
      // the same versions as without expiry: expiry removes none and supersedes none
      assert.deepEqual(dots(final), dots(model));
      final.forEach((v, i) => {
        const d = formatDot(v.dot);
        assert.equal(v.deleted, model[i]!.deleted || expired.has(d), `${d}: deleted ${v.deleted}, expired by a read: ${expired.has(d)}`);
      });
    }),
    { numRuns: 1000 },
  );
});

test('merging keeps its laws with tombstones of expired versions: commutative, associative, idempotent', () => {
  const expiredSet = fc.tuple(history, fc.integer({ min: 0, max: 250 }), fc.boolean()).map(([steps, now, expire]) => {
    const set = build(steps);
    return expire ? expireAt(set, now) : set;
  });
  fc.assert(
    fc.property(history, fc.integer({ min: 0, max: 250 }), fc.integer({ min: 0, max: 250 }), (steps, t1, t2) => {
      // three copies of one history, expired at different times: one replica's reads, another's, none
      const base = build(steps);
      const [a, b, c] = [expireAt(base, t1), expireAt(base, t2), base];
      const same = (x: SiblingSet, y: SiblingSet) => assert.ok(sameSet(x, y), `${dots(x)} / ${dots(y)}`);
      same(merge(a, b), merge(b, a));
      same(merge(merge(a, b), c), merge(a, merge(b, c)));
      same(merge(a, a), a);
      same(merge(c, a), a);
    }),
  );
  fc.assert(fc.property(expiredSet, expiredSet, (x, y) => assert.ok(sameSet(merge(x, y), merge(y, x)))));
});

test('ttlSeconds is a whole number of seconds from 1 to the documented maximum', () => {
  for (const ok of [1, 60, MAX_TTL_SECONDS]) assert.doesNotThrow(() => checkTtl(ok));
  for (const bad of [0, -1, 1.5, MAX_TTL_SECONDS + 1, Number.NaN, Infinity, '5', null]) {
    assert.throws(
      () => checkTtl(bad),
      (e: Error & { code?: string }) =>
        e.code === 'BAD_REQUEST' && /ttlSeconds must be a whole number of seconds from 1 to 315360000/.test(e.message),
    );
  }
  assert.equal(expiryTime(1000, 3), 4000);
});
